import { done, type JsonOption } from './common.ts';
import { authedRequest, deleteSession, SessionEndedError, sessionPath } from './session.ts';

/** `logout`: the session is revoked on the server (refresh token, Bearer access token), then its file deleted. */
export async function logoutCommand({ json }: JsonOption): Promise<number> {
  const path = sessionPath();
  try {
    const { body } = await authedRequest(json, (client, s) =>
      client.POST('/api/v1/auth/logout', { body: { refresh_token: s.refresh_token } }),
    );
    await deleteSession(path);
    return done(json, body, [`Logged out: the session is revoked on the server and ${path} is deleted.`]);
  } catch (err) {
    if (!(err instanceof SessionEndedError)) throw err;
    // Nothing left to revoke: the server had already ended it (and the file is gone).
    return done(json, { message: 'The session had already ended on the server.' }, [
      `The session had already ended on the server (expired, logged out elsewhere, or the password was reset); ${path} is deleted.`,
    ]);
  }
}
