/** The logging surface the proxy needs; a pino logger fits it. */
export type LogFn = (obj: object, msg?: string) => void;

export interface ProxyLogger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

const noop: LogFn = () => undefined;

export const silentLogger: ProxyLogger = { debug: noop, info: noop, warn: noop, error: noop };
