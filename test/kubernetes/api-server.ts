/**
 * A small but faithful Kubernetes API server on 127.0.0.1 for tests. It speaks the real REST
 * paths, verbs, patch content types, watch streams and Status error bodies, so the real
 * @kubernetes/client-node can talk to it. It stores objects in memory and knows no controllers:
 * test/kubernetes/controller.ts plays kube-controller-manager and the kubelet.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type KubeObject = Record<string, any>;

/** What Kubernetes authorization sees of a request (see "Determine the Request Verb" in the Kubernetes docs). */
export interface RequestAttributes {
  method: string;
  path: string;
  query: Record<string, string>;
  verb: 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';
  apiGroup: string;
  version: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  contentType?: string;
  /** As the real API server names a field manager: `?fieldManager=`, else the User-Agent up to its first "/". */
  fieldManager?: string;
}

export type Authorizer = (request: RequestAttributes) => boolean;

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KubeObject;
}

interface ResourceInfo {
  group: string;
  version: string;
  kind: string;
  namespaced: boolean;
}

/** The resources this server serves, keyed by `group/resource` (core group is ''). */
const RESOURCES: Record<string, ResourceInfo> = {
  '/pods': { group: '', version: 'v1', kind: 'Pod', namespaced: true },
  '/services': { group: '', version: 'v1', kind: 'Service', namespaced: true },
  '/endpoints': { group: '', version: 'v1', kind: 'Endpoints', namespaced: true },
  '/events': { group: '', version: 'v1', kind: 'Event', namespaced: true },
  'apps/deployments': { group: 'apps', version: 'v1', kind: 'Deployment', namespaced: true },
  'apps/replicasets': { group: 'apps', version: 'v1', kind: 'ReplicaSet', namespaced: true },
  'autoscaling/horizontalpodautoscalers': {
    group: 'autoscaling',
    version: 'v2',
    kind: 'HorizontalPodAutoscaler',
    namespaced: true,
  },
  'coordination.k8s.io/leases': { group: 'coordination.k8s.io', version: 'v1', kind: 'Lease', namespaced: true },
};

class HttpProblem extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: KubeObject,
  ) {
    super(message);
  }
}

/** The in-memory object store with resourceVersions and change events. */
export class ObjectStore extends EventEmitter<{ change: [key: string, event: WatchEvent] }> {
  private readonly objects = new Map<string, KubeObject>();
  private version = 1000;
  /** Recent changes, like the API server's watch cache, so a watch can resume from a resourceVersion. */
  readonly history: { resource: string; version: number; event: WatchEvent }[] = [];

  constructor() {
    super();
    this.setMaxListeners(0);
    this.on('change', (resource, event) => {
      this.history.push({ resource, version: Number(event.object.metadata.resourceVersion), event });
      if (this.history.length > 5000) this.history.shift();
    });
  }

  get currentVersion(): string {
    return String(this.version);
  }

  private static key(resource: string, namespace: string | undefined, name: string): string {
    return `${resource}|${namespace ?? ''}|${name}`;
  }

  /** `resource` is `group/plural`, e.g. `apps/deployments` or `/pods`. */
  get(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const found = this.objects.get(ObjectStore.key(resource, namespace, name));
    return found === undefined ? undefined : structuredClone(found);
  }

  list(resource: string, namespace?: string): KubeObject[] {
    const out: KubeObject[] = [];
    for (const [key, value] of this.objects) {
      const [r, ns] = key.split('|');
      if (r === resource && (namespace === undefined || ns === namespace)) out.push(structuredClone(value));
    }
    return out;
  }

  /** Creates or replaces an object, bumping its resourceVersion (and generation when its spec changed). */
  put(resource: string, object: KubeObject): KubeObject {
    const info = RESOURCES[resource];
    const namespace: string | undefined = object.metadata?.namespace;
    const name: string = object.metadata.name;
    const key = ObjectStore.key(resource, namespace, name);
    const previous = this.objects.get(key);
    const next = structuredClone(object);
    if (info) {
      next.apiVersion = info.group ? `${info.group}/${info.version}` : info.version;
      next.kind = info.kind;
    }
    next.metadata = { ...next.metadata };
    next.metadata.uid = previous?.metadata.uid ?? next.metadata.uid ?? randomUUID();
    next.metadata.creationTimestamp =
      previous?.metadata.creationTimestamp ?? next.metadata.creationTimestamp ?? new Date().toISOString();
    if (resource === 'apps/deployments') {
      const specChanged = previous === undefined || JSON.stringify(previous.spec) !== JSON.stringify(next.spec);
      next.metadata.generation = (previous?.metadata.generation ?? 0) + (specChanged ? 1 : 0);
      if (!specChanged) next.metadata.generation = previous.metadata.generation;
    }
    next.metadata.resourceVersion = String(++this.version);
    this.objects.set(key, next);
    this.emit('change', resource, { type: previous ? 'MODIFIED' : 'ADDED', object: structuredClone(next) });
    return structuredClone(next);
  }

  remove(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const key = ObjectStore.key(resource, namespace, name);
    const previous = this.objects.get(key);
    if (!previous) return undefined;
    this.objects.delete(key);
    const gone = structuredClone(previous);
    gone.metadata.resourceVersion = String(++this.version);
    this.emit('change', resource, { type: 'DELETED', object: structuredClone(gone) });
    return gone;
  }
}

export interface ApiServerOptions {
  /** Decides every request; absent means everything is allowed. */
  authorize?: Authorizer;
  /** How long a deleted pod stays Terminating before it disappears (default 30 ms). */
  podTerminationMs?: number;
}

/** Parses `a=b,c!=d,e` label selectors (equality-based and existence; set-based `in`/`notin` too). */
export function matchesLabelSelector(
  labels: Record<string, string> | undefined,
  selector: string | undefined,
): boolean {
  if (!selector) return true;
  const have = labels ?? {};
  const terms = selector.match(/[^,(]+(\([^)]*\))?/g) ?? [];
  return terms.every((raw) => {
    const term = raw.trim();
    let m = /^([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
    if (m) {
      const values = m[3].split(',').map((v) => v.trim());
      return m[2] === 'in' ? values.includes(have[m[1]]) : !values.includes(have[m[1]]);
    }
    m = /^([^!=]+)(==|=|!=)(.*)$/.exec(term);
    if (m) return m[2] === '!=' ? have[m[1].trim()] !== m[3].trim() : have[m[1].trim()] === m[3].trim();
    if (term.startsWith('!')) return !(term.slice(1) in have);
    return term in have;
  });
}

function fieldValue(object: KubeObject, path: string): string | undefined {
  let at: unknown = object;
  for (const part of path.split('.')) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as KubeObject)[part];
  }
  return at === undefined || at === null ? undefined : String(at);
}

function matchesFieldSelector(object: KubeObject, selector: string | undefined): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const m = /^([^!=]+)(==|=|!=)(.*)$/.exec(term.trim());
    if (!m) throw new HttpProblem(400, 'BadRequest', `invalid field selector: ${term}`);
    const value = fieldValue(object, m[1]) ?? '';
    return m[2] === '!=' ? value !== m[3] : value === m[3];
  });
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return structuredClone(patch);
  const out: KubeObject =
    target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as KubeObject) } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

/**
 * A subset of strategic merge patch: maps merge, `null` deletes, lists of objects keyed by
 * `name` (containers, env, ports, volumes) merge by name, other lists are replaced.
 */
export function strategicMergePatch(target: unknown, patch: unknown): unknown {
  if (Array.isArray(patch)) {
    const keyed = patch.every((p) => p !== null && typeof p === 'object' && typeof (p as KubeObject).name === 'string');
    if (!keyed || !Array.isArray(target)) return structuredClone(patch);
    const out = structuredClone(target) as KubeObject[];
    for (const item of patch as KubeObject[]) {
      const index = out.findIndex((t) => t?.name === item.name);
      if (item.$patch === 'delete') {
        if (index >= 0) out.splice(index, 1);
      } else if (index >= 0) out[index] = strategicMergePatch(out[index], item) as KubeObject;
      else out.push(structuredClone(item));
    }
    return out;
  }
  if (patch === null || typeof patch !== 'object') return patch;
  const out: KubeObject =
    target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as KubeObject) } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = strategicMergePatch(out[key], value);
  }
  return out;
}

/** RFC 6902 JSON patch (add, replace, remove, test). */
export function jsonPatch(target: KubeObject, operations: unknown): KubeObject {
  if (!Array.isArray(operations)) throw new HttpProblem(400, 'BadRequest', 'json patch must be an array of operations');
  const doc = structuredClone(target);
  for (const op of operations as KubeObject[]) {
    const parts = String(op.path ?? '')
      .split('/')
      .slice(1)
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    if (parts.length === 0) throw new HttpProblem(400, 'BadRequest', 'json patch path must not be empty');
    let parent: KubeObject = doc;
    for (const part of parts.slice(0, -1)) {
      if (parent[part] === undefined || parent[part] === null)
        throw new HttpProblem(422, 'Invalid', `doc is missing path: "${op.path}"`);
      parent = parent[part];
    }
    const last = parts[parts.length - 1];
    switch (op.op) {
      case 'add':
        if (Array.isArray(parent)) parent.splice(last === '-' ? parent.length : Number(last), 0, op.value);
        else parent[last] = op.value;
        break;
      case 'replace':
        if (!(last in parent))
          throw new HttpProblem(422, 'Invalid', `replace operation does not apply: doc is missing key: ${op.path}`);
        parent[last] = op.value;
        break;
      case 'remove':
        if (!(last in parent))
          throw new HttpProblem(422, 'Invalid', `remove operation does not apply: doc is missing key: ${op.path}`);
        if (Array.isArray(parent)) parent.splice(Number(last), 1);
        else delete parent[last];
        break;
      case 'test':
        if (JSON.stringify(parent[last]) !== JSON.stringify(op.value))
          throw new HttpProblem(422, 'Invalid', `testing value ${op.path} failed`);
        break;
      default:
        throw new HttpProblem(400, 'BadRequest', `unsupported json patch operation "${String(op.op)}"`);
    }
  }
  return doc;
}

const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$/;

/** Parses an API path into its parts, or undefined when it is not a resource path. */
export function parseApiPath(
  method: string,
  path: string,
  query: Record<string, string>,
): RequestAttributes | undefined {
  const core = /^\/api\/(v1)(\/.*)?$/.exec(path);
  const named = /^\/apis\/([^/]+)\/([^/]+)(\/.*)?$/.exec(path);
  let apiGroup: string, version: string, rest: string;
  if (core) [apiGroup, version, rest] = ['', core[1], core[2] ?? ''];
  else if (named) [apiGroup, version, rest] = [named[1], named[2], named[3] ?? ''];
  else return undefined;
  const parts = rest.split('/').filter(Boolean).map(decodeURIComponent);
  let namespace: string | undefined;
  if (parts[0] === 'namespaces' && parts.length >= 3) {
    namespace = parts[1];
    parts.splice(0, 2);
  }
  const [resource, name, subresource] = parts;
  if (!resource) return undefined;
  const isWatch = query.watch === 'true' || query.watch === '1';
  let verb: RequestAttributes['verb'];
  switch (method) {
    case 'GET':
      verb = isWatch ? 'watch' : name ? 'get' : 'list';
      break;
    case 'POST':
      verb = 'create';
      break;
    case 'PUT':
      verb = 'update';
      break;
    case 'PATCH':
      verb = 'patch';
      break;
    case 'DELETE':
      verb = name ? 'delete' : 'deletecollection';
      break;
    default:
      return undefined;
  }
  return { method, path, query, verb, apiGroup, version, resource, subresource, namespace, name };
}

/** A running fake API server. */
export class FakeApiServer {
  readonly store = new ObjectStore();
  /** Every request received, in order, with its authorization attributes. */
  readonly requests: RequestAttributes[] = [];
  /** Container logs, keyed `namespace/pod/container` (current) or `.../previous`. */
  readonly logs = new Map<string, string[]>();
  authorize: Authorizer | undefined;
  podTerminationMs: number;
  private server: Server | undefined;
  private readonly watchers = new Set<ServerResponse>();
  private readonly timers = new Set<NodeJS.Timeout>();
  url = '';

  constructor(options: ApiServerOptions = {}) {
    this.authorize = options.authorize;
    this.podTerminationMs = options.podTerminationMs ?? 30;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    for (const res of this.watchers) res.end();
    this.watchers.clear();
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  /** A kubeconfig object for `KubeConfig.loadFromOptions`. */
  kubeConfigOptions(context = 'test', namespace = 'default') {
    return {
      clusters: [{ name: `${context}-cluster`, server: this.url, skipTLSVerify: true }],
      users: [{ name: `${context}-user`, token: 'test-token' }],
      contexts: [{ name: context, cluster: `${context}-cluster`, user: `${context}-user`, namespace }],
      currentContext: context,
    };
  }

  setLogs(namespace: string, pod: string, container: string, lines: string[], previous = false): void {
    this.logs.set(`${namespace}/${pod}/${container}${previous ? '/previous' : ''}`, lines);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const query = Object.fromEntries(url.searchParams);
    const attributes = parseApiPath(req.method ?? 'GET', url.pathname, query);
    try {
      if (!attributes) throw new HttpProblem(404, 'NotFound', 'the server could not find the requested resource');
      attributes.contentType = req.headers['content-type'];
      attributes.fieldManager = attributes.query.fieldManager ?? (req.headers['user-agent'] ?? 'unknown').split('/')[0];
      this.requests.push(attributes);
      const body = await readBody(req);
      const key = `${attributes.apiGroup}/${attributes.resource}`;
      const info = RESOURCES[key];
      if (!info || info.version !== attributes.version)
        throw new HttpProblem(404, 'NotFound', 'the server could not find the requested resource');
      if (this.authorize && !this.authorize(attributes)) throw forbidden(attributes);
      await this.dispatch(attributes, key, info, body, req, res);
    } catch (error) {
      if (res.headersSent) {
        res.end();
        return;
      }
      const problem = error instanceof HttpProblem ? error : new HttpProblem(500, 'InternalError', String(error));
      sendJson(res, problem.code, {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: problem.message,
        reason: problem.reason,
        details: problem.details,
        code: problem.code,
      });
    }
  }

  private async dispatch(
    a: RequestAttributes,
    key: string,
    info: ResourceInfo,
    body: string,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const groupResource = info.group ? `${a.resource}.${info.group}` : a.resource;
    const notFound = (name: string) =>
      new HttpProblem(404, 'NotFound', `${groupResource} "${name}" not found`, {
        name,
        group: info.group,
        kind: a.resource,
      });
    if (a.subresource) return this.subresource(a, key, body, res, notFound);
    switch (a.verb) {
      case 'get': {
        const found = this.store.get(key, a.namespace, a.name!);
        if (!found) throw notFound(a.name!);
        return sendJson(res, 200, found);
      }
      case 'list': {
        const items = this.select(key, a.namespace, a.query);
        return sendJson(res, 200, {
          kind: `${info.kind}List`,
          apiVersion: info.group ? `${info.group}/${info.version}` : info.version,
          metadata: { resourceVersion: this.store.currentVersion },
          items,
        });
      }
      case 'watch':
        return this.watch(key, a, req, res);
      case 'create': {
        const object = parseJson(body);
        object.metadata = { ...object.metadata, namespace: a.namespace };
        if (!object.metadata.name)
          throw new HttpProblem(
            422,
            'Invalid',
            `${info.kind} "" is invalid: metadata.name: Required value: name is required`,
          );
        if (this.store.get(key, a.namespace, object.metadata.name)) {
          throw new HttpProblem(409, 'AlreadyExists', `${groupResource} "${object.metadata.name}" already exists`, {
            name: object.metadata.name,
            kind: a.resource,
          });
        }
        delete object.metadata.resourceVersion;
        validate(key, object);
        return sendJson(res, 201, this.store.put(key, object));
      }
      case 'update': {
        const object = parseJson(body);
        const current = this.store.get(key, a.namespace, a.name!);
        if (!current) throw notFound(a.name!);
        if (object.metadata?.name !== a.name)
          throw new HttpProblem(400, 'BadRequest', 'the name of the object does not match the name on the URL');
        if (object.metadata?.resourceVersion && object.metadata.resourceVersion !== current.metadata.resourceVersion)
          throw conflict(groupResource, a.name!);
        object.metadata = { ...object.metadata, namespace: a.namespace, uid: current.metadata.uid };
        if (key === 'apps/deployments') object.status = current.status;
        validate(key, object);
        return sendJson(res, 200, this.store.put(key, object));
      }
      case 'patch': {
        const current = this.store.get(key, a.namespace, a.name!);
        if (!current) throw notFound(a.name!);
        const patched = applyPatch(current, a.contentType, body);
        if (patched.metadata?.resourceVersion && patched.metadata.resourceVersion !== current.metadata.resourceVersion)
          throw conflict(groupResource, a.name!);
        patched.metadata = {
          ...patched.metadata,
          name: current.metadata.name,
          namespace: current.metadata.namespace,
          uid: current.metadata.uid,
        };
        if (key === 'apps/deployments') patched.status = current.status;
        validate(key, patched);
        return sendJson(res, 200, this.store.put(key, patched));
      }
      case 'delete': {
        const current = this.store.get(key, a.namespace, a.name!);
        if (!current) throw notFound(a.name!);
        if (key === '/pods' && !current.metadata.deletionTimestamp) {
          const grace = a.query.gracePeriodSeconds === '0' ? 0 : this.podTerminationMs;
          current.metadata.deletionTimestamp = new Date().toISOString();
          current.metadata.deletionGracePeriodSeconds = Math.ceil(grace / 1000);
          const terminating = this.store.put(key, current);
          const timer = setTimeout(() => {
            this.timers.delete(timer);
            this.store.remove(key, a.namespace, a.name!);
          }, grace);
          this.timers.add(timer);
          return sendJson(res, 200, terminating);
        }
        if (key === '/pods') return sendJson(res, 200, current);
        this.store.remove(key, a.namespace, a.name!);
        return sendJson(res, 200, {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Success',
          details: { name: a.name, kind: a.resource, uid: current.metadata.uid },
        });
      }
      default:
        throw new HttpProblem(405, 'MethodNotAllowed', `${a.verb} is not supported on ${groupResource}`);
    }
  }

  private async subresource(
    a: RequestAttributes,
    key: string,
    body: string,
    res: ServerResponse,
    notFound: (name: string) => HttpProblem,
  ): Promise<void> {
    const current = this.store.get(key, a.namespace, a.name!);
    if (!current) throw notFound(a.name!);
    if (key === '/pods' && a.subresource === 'log' && a.verb === 'get') {
      const containers: KubeObject[] = current.spec?.containers ?? [];
      const container = a.query.container ?? (containers.length === 1 ? containers[0].name : undefined);
      if (!container) {
        throw new HttpProblem(
          400,
          'BadRequest',
          `a container name must be specified for pod ${a.name}, choose one of: [${containers.map((c) => c.name).join(' ')}]`,
        );
      }
      const previous = a.query.previous === 'true';
      const lines = this.logs.get(`${a.namespace}/${a.name}/${container}${previous ? '/previous' : ''}`);
      if (!lines && previous)
        throw new HttpProblem(
          400,
          'BadRequest',
          `previous terminated container "${container}" in pod "${a.name}" not found`,
        );
      const tail = a.query.tailLines ? Number(a.query.tailLines) : undefined;
      const selected = tail === undefined ? (lines ?? []) : (lines ?? []).slice(-tail);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(selected.map((l) => `${l}\n`).join(''));
      return;
    }
    if (key === 'apps/deployments' && a.subresource === 'scale') {
      const toScale = (d: KubeObject) => ({
        kind: 'Scale',
        apiVersion: 'autoscaling/v1',
        metadata: {
          name: d.metadata.name,
          namespace: d.metadata.namespace,
          uid: d.metadata.uid,
          resourceVersion: d.metadata.resourceVersion,
          creationTimestamp: d.metadata.creationTimestamp,
        },
        spec: { replicas: d.spec?.replicas ?? 1 },
        status: { replicas: d.status?.replicas ?? 0, selector: selectorString(d.spec?.selector?.matchLabels ?? {}) },
      });
      if (a.verb === 'get') return sendJson(res, 200, toScale(current));
      let scale: KubeObject;
      if (a.verb === 'update') {
        scale = parseJson(body);
        if (scale.metadata?.resourceVersion && scale.metadata.resourceVersion !== current.metadata.resourceVersion)
          throw conflict('deployments.apps', a.name!);
      } else if (a.verb === 'patch') {
        scale = applyPatch(toScale(current), a.contentType, body);
      } else throw new HttpProblem(405, 'MethodNotAllowed', `${a.verb} is not supported on deployments/scale`);
      const replicas = scale.spec?.replicas;
      if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
        throw new HttpProblem(
          422,
          'Invalid',
          `Scale.autoscaling "${a.name}" is invalid: spec.replicas: Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0`,
        );
      }
      current.spec = { ...current.spec, replicas };
      // Server-side field management: the scale subresource's writer now owns spec.replicas.
      const manager = a.fieldManager ?? 'unknown';
      const others = (current.metadata.managedFields ?? []).filter(
        (f: KubeObject) => !(f.manager === manager && f.subresource === 'scale'),
      );
      const entry = {
        manager,
        operation: 'Update',
        apiVersion: 'autoscaling/v1',
        time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:spec': { 'f:replicas': {} } },
        subresource: 'scale',
      };
      current.metadata = { ...current.metadata, managedFields: [...others, entry] };
      return sendJson(res, 200, toScale(this.store.put(key, current)));
    }
    throw new HttpProblem(404, 'NotFound', 'the server could not find the requested resource');
  }

  private select(key: string, namespace: string | undefined, query: Record<string, string>): KubeObject[] {
    return this.store
      .list(key, namespace)
      .filter(
        (o) =>
          matchesLabelSelector(o.metadata?.labels, query.labelSelector) && matchesFieldSelector(o, query.fieldSelector),
      )
      .sort((x, y) => String(x.metadata.name).localeCompare(String(y.metadata.name)));
  }

  private watch(key: string, a: RequestAttributes, req: IncomingMessage, res: ServerResponse): void {
    const matches = (o: KubeObject) =>
      (a.namespace === undefined || o.metadata?.namespace === a.namespace) &&
      matchesLabelSelector(o.metadata?.labels, a.query.labelSelector) &&
      matchesFieldSelector(o, a.query.fieldSelector);
    const from =
      a.query.resourceVersion && a.query.resourceVersion !== '0' ? Number(a.query.resourceVersion) : undefined;
    const history = this.store.history;
    if (from !== undefined && history.length > 0 && from < history[0].version - 1) {
      throw new HttpProblem(410, 'Expired', `too old resource version: ${from} (${history[0].version - 1})`);
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    const send = (event: WatchEvent) => res.write(`${JSON.stringify(event)}\n`);
    // Without a resourceVersion the API server starts with synthetic ADDED events for what exists now;
    // with one, it replays what changed after it from its watch cache.
    if (from === undefined) for (const o of this.select(key, a.namespace, a.query)) send({ type: 'ADDED', object: o });
    else for (const h of history) if (h.resource === key && h.version > from && matches(h.event.object)) send(h.event);
    const listener = (resource: string, event: WatchEvent) => {
      if (resource === key && matches(event.object)) send(event);
    };
    this.store.on('change', listener);
    this.watchers.add(res);
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      this.store.off('change', listener);
      this.watchers.delete(res);
      if (timer) clearTimeout(timer);
      res.end();
    };
    if (a.query.timeoutSeconds) timer = setTimeout(finish, Number(a.query.timeoutSeconds) * 1000);
    req.on('close', finish);
    res.on('close', finish);
  }
}

function selectorString(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

function forbidden(a: RequestAttributes): HttpProblem {
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const where = a.namespace ? ` in the namespace "${a.namespace}"` : ' at the cluster scope';
  const name = a.name ? `"${a.name}" ` : '';
  return new HttpProblem(
    403,
    'Forbidden',
    `${a.resource}${a.name ? ` ${name.trim()}` : ''} is forbidden: User "system:serviceaccount:healbot:healbot" cannot ${a.verb} resource "${resource}" in API group "${a.apiGroup}"${where}`,
    { name: a.name, group: a.apiGroup, kind: a.resource },
  );
}

function conflict(groupResource: string, name: string): HttpProblem {
  return new HttpProblem(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${groupResource} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    { name },
  );
}

function validate(key: string, object: KubeObject): void {
  if (key === 'coordination.k8s.io/leases') {
    for (const field of ['acquireTime', 'renewTime'] as const) {
      const value = object.spec?.[field];
      if (value !== undefined && value !== null && !MICRO_TIME.test(String(value))) {
        throw new HttpProblem(
          400,
          'BadRequest',
          `Lease in version "v1" cannot be handled as a Lease: parsing time "${String(value)}" as "2006-01-02T15:04:05.000000Z07:00": cannot parse`,
        );
      }
    }
  }
}

function applyPatch(current: KubeObject, contentType: string | undefined, body: string): KubeObject {
  const type = (contentType ?? '').split(';')[0].trim();
  const patch = parseJson(body);
  switch (type) {
    case 'application/merge-patch+json':
      return mergePatch(current, patch) as KubeObject;
    case 'application/strategic-merge-patch+json':
      return strategicMergePatch(current, patch) as KubeObject;
    case 'application/json-patch+json':
      return jsonPatch(current, patch);
    default:
      throw new HttpProblem(
        415,
        'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`,
      );
  }
}

function parseJson(body: string): KubeObject {
  try {
    return JSON.parse(body) as KubeObject;
  } catch {
    throw new HttpProblem(400, 'BadRequest', 'the request body is not valid JSON');
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
