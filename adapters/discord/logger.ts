/** The slice of a pino logger the Discord adapter uses; pino's Logger fits it. */
export interface DiscordLogger {
  info(object: object, message?: string): void;
  warn(object: object, message?: string): void;
  error(object: object, message?: string): void;
  debug?(object: object, message?: string): void;
}

/** Used when no logger is given: stays quiet rather than writing to stdout behind the app's back. */
export const silentLogger: DiscordLogger = {
  info: () => {},
  warn: () => {},
  error: () => {},
  debug: () => {},
};
