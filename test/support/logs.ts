/** A JSON line the service logged. */
export interface LogLine {
  msg?: string;
  level?: number;
  req?: { method?: string; url?: string };
  res?: { statusCode?: number };
  [key: string]: unknown;
}

/** The lines in chunks of the service's log output (a chunk may hold several). */
export const parseLogLines = (chunks: readonly string[]): LogLine[] =>
  chunks.flatMap((chunk) => chunk.split('\n').filter(Boolean)).map((line) => JSON.parse(line) as LogLine);
