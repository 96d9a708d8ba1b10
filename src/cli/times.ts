const pad2 = (n: number) => String(n).padStart(2, '0');

/** Local time, HH:MM:SS (HH:MM without `seconds`); the date too when it is not today. One way for every time the CLI prints. */
export function formatTime(at: string | Date, { seconds = true, now = new Date() } = {}): string {
  const d = new Date(at);
  const time = `${pad2(d.getHours())}:${pad2(d.getMinutes())}${seconds ? `:${pad2(d.getSeconds())}` : ''}`;
  return d.toDateString() === now.toDateString()
    ? time
    : `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${time}`;
}
