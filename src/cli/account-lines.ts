import type { PublicUser } from '../contract/public-user.ts';
import { printable } from './printable.ts';
import { formatTime } from './times.ts';

const mark = (verified: boolean) => (verified ? 'verified' : 'NOT verified');

/** An account as `me`, `user` and `delete-user` show it: the name, then one fact a line. */
export const accountLines = (u: PublicUser): string[] =>
  [
    `${u.first_name} ${u.last_name}`,
    `  email    ${u.email} (${mark(u.email_verified)})`,
    `  phone    ${u.phone} (${mark(u.phone_verified)})`,
    `  id       ${u.id}`,
    `  locale   ${u.locale}`,
    `  created  ${formatTime(u.created_at)}`,
  ].map(printable);
