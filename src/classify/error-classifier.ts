/**
 * Classifies an application error (an exception type and message from Sentry, Logfire or a
 * log line) into the routing categories. Pure: patterns over text, no I/O.
 */

export const ERROR_CATEGORIES = [
  'import_error',
  'type_mismatch',
  'null_reference',
  'api_error',
  'timeout',
  'security',
  'infrastructure',
  'unknown',
] as const;
export type ErrorCategory = (typeof ERROR_CATEGORIES)[number];

export type ErrorLanguage = 'python' | 'javascript' | 'go' | 'java' | 'unknown';

export interface ErrorInput {
  /** The exception class, e.g. `ModuleNotFoundError`, `java.lang.NullPointerException`. */
  type?: string;
  message: string;
  /** Sentry's `platform` or Logfire's language hint: python, javascript, node, go, java… */
  platform?: string;
}

/** A dependency named in an infrastructure error: the address the code could not reach. */
export interface DependencyAddress {
  host?: string;
  port?: number;
  /** refused, dns (name not found), reset (connection dropped), unavailable (the driver's own words). */
  failure: 'refused' | 'dns' | 'reset' | 'unavailable';
}

export interface ErrorClassification {
  category: ErrorCategory;
  /** 0..1: high when the exception type itself names the failure, lower when only the message hints at it. */
  confidence: number;
  language: ErrorLanguage;
  /** Which pattern matched, for the thread and the issue. */
  reason: string;
  /** For infrastructure: the dependency that failed, when the message names it. */
  dependency?: DependencyAddress;
}

interface Rule {
  category: ErrorCategory;
  pattern: RegExp;
  confidence: number;
  reason: string;
  language?: ErrorLanguage;
  failure?: DependencyAddress['failure'];
}

/** A type that names the failure is strong evidence; a message phrase alone is weaker. */
const TYPE = 0.92;
const PHRASE = 0.75;
const HINT = 0.6;

/**
 * Ordered: the first match wins. Security comes first (it must never be "healed"), then
 * infrastructure (the code is fine, a dependency is not), then timeouts, then code errors.
 */
const RULES: Rule[] = [
  // security
  {
    category: 'security',
    pattern:
      /\b(SuspiciousOperation|SuspiciousFileOperation|DisallowedHost|PermissionDenied)\b|CSRF verification failed|CSRF token (missing|incorrect)/i,
    confidence: TYPE,
    reason: 'Django security exception',
    language: 'python',
  },
  {
    category: 'security',
    pattern:
      /\b(InvalidSignatureError|ExpiredSignatureError|InvalidTokenError|DecodeError: Signature verification failed|cryptography\.exceptions\.InvalidSignature)\b/,
    confidence: TYPE,
    reason: 'token or signature rejected',
    language: 'python',
  },
  {
    category: 'security',
    pattern: /\b(JsonWebTokenError|TokenExpiredError|EBADCSRFTOKEN)\b|invalid csrf token|prototype pollution/i,
    confidence: TYPE,
    reason: 'token, CSRF or prototype pollution',
    language: 'javascript',
  },
  {
    category: 'security',
    pattern:
      /\b(java\.lang\.SecurityException|AccessDeniedException|BadCredentialsException|InsufficientAuthenticationException|io\.jsonwebtoken\.\w*(SignatureException|ExpiredJwtException)|ExpiredJwtException|SSLHandshakeException|CertificateExpiredException)\b/,
    confidence: TYPE,
    reason: 'Java security exception',
    language: 'java',
  },
  {
    category: 'security',
    pattern:
      /x509: certificate|tls: (bad certificate|unknown certificate authority|handshake failure)|(jwt|token): (signature is invalid|token is expired)|crypto\/rsa: verification error/i,
    confidence: TYPE,
    reason: 'certificate, TLS or token verification failed',
    language: 'go',
  },
  {
    category: 'security',
    pattern:
      /certificate verify failed|token is expired|token signature is invalid|token has invalid claims|sql injection|path traversal|signature (verification )?(failed|mismatch)|invalid signature/i,
    confidence: PHRASE,
    reason: 'security phrase in the message',
  },

  // infrastructure: a dependency the code reaches is down or unreachable
  {
    category: 'infrastructure',
    pattern:
      /\bECONNREFUSED\b|connection refused|Connection to \S+ refused|\[Errno 111\]|Error 111 connecting|Connect(ion)?Refused(Error)?\b/i,
    confidence: TYPE,
    reason: 'connection refused by a dependency',
    failure: 'refused',
  },
  {
    category: 'infrastructure',
    pattern:
      /\bENOTFOUND\b|\bEAI_AGAIN\b|getaddrinfo|Name or service not known|nodename nor servname|no such host|UnknownHostException|Temporary failure in name resolution|could not translate host name/i,
    confidence: TYPE,
    reason: 'a dependency name does not resolve',
    failure: 'dns',
  },
  {
    category: 'infrastructure',
    pattern:
      /\bECONNRESET\b|connection reset by peer|broken pipe|\bEPIPE\b|server closed the connection unexpectedly|Connection reset/i,
    confidence: PHRASE,
    reason: 'a dependency dropped the connection',
    failure: 'reset',
  },
  {
    category: 'infrastructure',
    pattern:
      /Communications link failure|JedisConnectionException|RedisConnectionException|Unable to connect to|MongoServerSelectionError|ServerSelectionTimeoutError|could not connect to server|Can't connect to (MySQL|local MySQL) server|no healthy upstream|No connection could be made/i,
    confidence: PHRASE,
    reason: 'a database or cache is unreachable',
    failure: 'unavailable',
  },

  // timeouts
  {
    category: 'timeout',
    pattern:
      /\b(TimeoutError|SocketTimeoutException|TimeoutException|ReadTimeout|ConnectTimeout|ReadTimeoutError|ConnectTimeoutError|SoftTimeLimitExceeded|TimeLimitExceeded|KnexTimeoutError|QueryTimeoutException|HttpTimeoutException)\b/,
    confidence: TYPE,
    reason: 'a timeout exception',
  },
  {
    category: 'timeout',
    pattern:
      /context deadline exceeded|Client\.Timeout exceeded|i\/o timeout|\bETIMEDOUT\b|\bESOCKETTIMEDOUT\b|timed out|timeout of \d+ ?ms exceeded|statement timeout|request timed out|deadline exceeded|aborted due to timeout|Timeout acquiring a connection/i,
    confidence: PHRASE,
    reason: 'a timeout in the message',
  },

  // imports and missing code
  {
    category: 'import_error',
    pattern: /\b(ModuleNotFoundError|ImportError)\b|No module named/,
    confidence: TYPE,
    reason: 'Python import failed',
    language: 'python',
  },
  {
    category: 'import_error',
    pattern:
      /Cannot find module|ERR_MODULE_NOT_FOUND|ERR_REQUIRE_ESM|Cannot find package|Module not found: Error: Can't resolve|does not provide an export named|Cannot use import statement outside a module|ChunkLoadError|Failed to fetch dynamically imported module/,
    confidence: TYPE,
    reason: 'JavaScript module resolution failed',
    language: 'javascript',
  },
  {
    category: 'import_error',
    pattern:
      /\b(ClassNotFoundException|NoClassDefFoundError|NoSuchMethodError|NoSuchFieldError|UnsatisfiedLinkError|IncompatibleClassChangeError)\b/,
    confidence: TYPE,
    reason: 'a class or method is missing at run time',
    language: 'java',
  },
  {
    category: 'import_error',
    pattern:
      /cannot find package|no required module provides package|plugin was built with a different version of package|undefined: \w+\.\w+/,
    confidence: TYPE,
    reason: 'Go package missing',
    language: 'go',
  },

  // null references (before type mismatches: JavaScript says both with TypeError)
  {
    category: 'null_reference',
    pattern: /'NoneType' object (has no attribute|is not subscriptable|is not iterable|is not callable)|NoneType/,
    confidence: TYPE,
    reason: 'Python None used as a value',
    language: 'python',
  },
  {
    category: 'null_reference',
    pattern:
      /Cannot read propert(y|ies) of (undefined|null)|Cannot read property '[^']*' of (undefined|null)|Cannot set propert(y|ies) of (undefined|null)|(undefined|null) is not an object|Cannot destructure property|can't access property "[^"]*", \S+ is (undefined|null)|has no properties/,
    confidence: TYPE,
    reason: 'JavaScript undefined or null dereferenced',
    language: 'javascript',
  },
  {
    category: 'null_reference',
    pattern: /nil pointer dereference|assignment to entry in nil map|invalid memory address/,
    confidence: TYPE,
    reason: 'Go nil dereferenced',
    language: 'go',
  },
  {
    category: 'null_reference',
    pattern:
      /\b(NullPointerException|UninitializedPropertyAccessException|KotlinNullPointerException)\b|because "[^"]*" is null|No value present/,
    confidence: TYPE,
    reason: 'Java null dereferenced',
    language: 'java',
  },

  // type mismatches
  {
    category: 'type_mismatch',
    pattern:
      /unsupported operand type|can only concatenate|must be (str|int|real number|bytes)|object is not (subscriptable|callable|iterable)|invalid literal for|is not JSON serializable|got an unexpected keyword argument|takes \d+ positional arguments? but|missing \d+ required positional argument|\bValidationError\b|could not convert string to/,
    confidence: TYPE,
    reason: 'Python value of the wrong type',
    language: 'python',
  },
  {
    category: 'type_mismatch',
    pattern:
      /is not a function|is not iterable|is not a constructor|Cannot convert (a Symbol|undefined or null|object to primitive)|Converting circular structure to JSON|Assignment to constant variable|Do not know how to serialize a BigInt|\bZodError\b/,
    confidence: TYPE,
    reason: 'JavaScript value of the wrong type',
    language: 'javascript',
  },
  {
    category: 'type_mismatch',
    pattern:
      /interface conversion|cannot unmarshal \w+ into Go|strconv\.\w+: parsing|json: cannot unmarshal|reflect: call of .* on .* Value/,
    confidence: TYPE,
    reason: 'Go value of the wrong type',
    language: 'go',
  },
  {
    category: 'type_mismatch',
    pattern:
      /\b(ClassCastException|NumberFormatException|ArrayStoreException|MismatchedInputException|InvalidFormatException|HttpMessageNotReadableException|MethodArgumentTypeMismatchException)\b|argument type mismatch|cannot be cast to/,
    confidence: TYPE,
    reason: 'Java value of the wrong type',
    language: 'java',
  },

  // errors answered by an API the code calls
  {
    category: 'api_error',
    pattern:
      /\b(HTTPError|HTTPStatusError|ClientError|APIError|APIStatusError|RateLimitError|StripeError|InvalidRequestError|AxiosError|FetchError|HttpErrorResponse|HttpServerErrorException|HttpClientErrorException|FeignException|WebClientResponseException|AmazonS3Exception|AmazonServiceException|GoogleJsonResponseException|StripeInvalidRequestError|StripeCardError)\b/,
    confidence: TYPE,
    reason: 'an API answered with an error',
  },
  {
    category: 'api_error',
    pattern:
      /status code:? [45]\d\d|\b[45]\d\d (Server|Client) Error|\[[45]\d\d [A-Z][\w ]+\]|Status Code: [45]\d\d|googleapi: Error \d{3}|rpc error: code = (Unavailable|Internal|ResourceExhausted|PermissionDenied|Unauthenticated|NotFound|InvalidArgument)|unexpected status( code)?:? [45]\d\d|rate limit|Too Many Requests|Service Unavailable|Bad Gateway|Unexpected token < in JSON/i,
    confidence: PHRASE,
    reason: 'an HTTP or RPC error status in the message',
  },
];

const PLATFORM_LANGUAGE: Record<string, ErrorLanguage> = {
  python: 'python',
  javascript: 'javascript',
  node: 'javascript',
  typescript: 'javascript',
  'javascript-react': 'javascript',
  go: 'go',
  java: 'java',
  kotlin: 'java',
  android: 'java',
};

const LANGUAGE_HINTS: [ErrorLanguage, RegExp][] = [
  [
    'java',
    /\bjava[x]?\.|\borg\.(springframework|hibernate|postgresql|apache)\.|\bcom\.(fasterxml|mysql|amazonaws)\.|\bio\.(lettuce|jsonwebtoken|netty)\.|\bredis\.clients\.|Exception\$|\bkotlin\./,
  ],
  [
    'go',
    /^panic:|\bdial tcp\b|context deadline exceeded|\bgoroutine\b|interface conversion|Go struct|strconv\.|googleapi:|rpc error: code =|\bx509:/,
  ],
  [
    'python',
    /\b(ModuleNotFoundError|ImportError|AttributeError|KeyError|ValueError|ZeroDivisionError|RecursionError|NoneType)\b|\[Errno -?\d+\]|\b(psycopg2|sqlalchemy|requests|httpx|redis|django|celery|pymongo|pydantic|botocore|urllib3|stripe\.error|openai)\.|Traceback/,
  ],
  [
    'javascript',
    /Cannot read propert|is not a function|\bE[A-Z]{4,}\b|Cannot find module|ERR_[A-Z_]+|\bAxiosError\b|\bFetchError\b|\bSequelize\w*|\bKnex|\bMongo\w*Error|ReferenceError|undefined is not|\bnode:/,
  ],
];

/** The language an error comes from: the platform when given, else hints in its text. */
export function detectLanguage(input: ErrorInput): ErrorLanguage {
  const platform = input.platform?.toLowerCase();
  if (platform && Object.hasOwn(PLATFORM_LANGUAGE, platform)) return PLATFORM_LANGUAGE[platform];
  const text = errorText(input);
  return LANGUAGE_HINTS.find(([, hint]) => hint.test(text))?.[0] ?? 'unknown';
}

/** `Type: message`, unless the message already starts with its type. */
export function errorText(input: ErrorInput): string {
  const message = input.message.trim();
  if (!input.type || message.startsWith(input.type)) return message;
  return `${input.type}: ${message}`;
}

const ADDRESS_PATTERNS: RegExp[] = [
  /host=['"]?([\w.-]+)['"]?,\s*port=(\d+)/,
  /server at "([\w.-]+)"(?: \([^)]*\))?, port (\d+)/,
  /on host "([\w.-]+)"[^]*?port (\d+)/,
  /connecting to ([\w.-]+):(\d+)/i,
  /Connection to ([\w.-]+):(\d+) refused/,
  /Unable to connect to ([\w.-]+)(?:[:/](\d+))?/,
  /Redis connection to ([\w.-]+):(\d+) failed/,
  /dial tcp (?:\[([0-9a-f:]+)\]|([\w.-]+)):(\d+)/i,
  /(?:ECONNREFUSED|ECONNRESET|ETIMEDOUT) \[?([\w.:-]+?)\]?:(\d+)\b/,
  /([\w.-]+):(\d+): \[Errno/,
  /ENOTFOUND ([\w.-]+)/,
  /lookup ([\w.-]+)(?: on \S+)?: no such host/,
  /UnknownHostException: ([\w.-]+)/,
  /could not translate host name "([\w.-]+)"/,
];

/** The host and port an infrastructure error names, when it names one. */
export function dependencyAddress(text: string, failure: DependencyAddress['failure']): DependencyAddress {
  for (const pattern of ADDRESS_PATTERNS) {
    const match = pattern.exec(text);
    if (!match) continue;
    const groups = match.slice(1).filter((g) => g !== undefined);
    const [host, port] = groups.length >= 2 ? [groups[0], groups[1]] : [groups[0], undefined];
    return { host, port: port !== undefined && /^\d+$/.test(port) ? Number(port) : undefined, failure };
  }
  return { failure };
}

/**
 * Classifies one application error. The first rule that matches wins; a rule written for
 * another language than the error's counts less, and nothing that matches stays `unknown`.
 */
export function classifyError(input: ErrorInput): ErrorClassification {
  const text = errorText(input);
  const language = detectLanguage(input);
  for (const rule of RULES) {
    if (!rule.pattern.test(text)) continue;
    const foreign = rule.language !== undefined && language !== 'unknown' && rule.language !== language;
    const confidence = foreign ? Math.min(rule.confidence, HINT) : rule.confidence;
    const classification: ErrorClassification = { category: rule.category, confidence, language, reason: rule.reason };
    if (rule.failure) classification.dependency = dependencyAddress(text, rule.failure);
    return classification;
  }
  return { category: 'unknown', confidence: 0.3, language, reason: 'no pattern matched' };
}
