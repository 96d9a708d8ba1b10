import { createHash, randomBytes } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';

export interface AccessClaims {
  userId: string;
  sessionId: string;
}

const ISSUER = 'panic-api';
// The typ claim keeps the two kinds of token apart: a refresh token is not even a JWT, and an
// access token must say it is one.
const ACCESS = 'access';

export async function signAccessToken(
  secret: string,
  claims: AccessClaims,
  ttlSeconds: number,
  now: Date,
): Promise<string> {
  const iat = Math.floor(now.getTime() / 1000);
  return new SignJWT({ sid: claims.sessionId, typ: ACCESS })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(claims.userId)
    .setIssuer(ISSUER)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttlSeconds)
    .sign(new TextEncoder().encode(secret));
}

/** The claims of a valid access token, or undefined for anything else (expired, forged, a refresh token). */
export async function verifyAccessToken(secret: string, token: string, now: Date): Promise<AccessClaims | undefined> {
  try {
    const { payload } = await jwtVerify(token, new TextEncoder().encode(secret), {
      issuer: ISSUER,
      algorithms: ['HS256'],
      currentDate: now,
    });
    if (payload.typ !== ACCESS || typeof payload.sub !== 'string' || typeof payload.sid !== 'string') return undefined;
    return { userId: payload.sub, sessionId: payload.sid };
  } catch {
    return undefined;
  }
}

export const newRefreshToken = (): string => randomBytes(32).toString('base64url');

/** Refresh tokens are stored as their SHA-256: they are random, so no salt or slow hash is needed. */
export const hashRefreshToken = (token: string): string => createHash('sha256').update(token).digest('hex');
