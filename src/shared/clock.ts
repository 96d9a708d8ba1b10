/** The one source of "now" for domain code, so tests can pin time and SQL never mixes clocks. */
export type Clock = () => Date;
export const systemClock: Clock = () => new Date();
export const addSeconds = (d: Date, s: number): Date => new Date(d.getTime() + s * 1000);
