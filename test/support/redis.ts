import { connect } from 'node:net';

/** Whether a Redis server answers PING at host:port within a second. */
export function redisAnswers(host = '127.0.0.1', port = 6379): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

/** A skip reason only where Redis is absent outside CI; under CI=true an absent Redis fails the test. */
export async function skipUnlessRedis(): Promise<string | false> {
  return !(await redisAnswers()) && process.env.CI !== 'true' ? 'Redis does not answer at 127.0.0.1:6379' : false;
}
