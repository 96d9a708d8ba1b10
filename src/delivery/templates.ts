import { PURPOSES, type Channel, type OtpPurpose } from '../vocabulary.ts';

export interface CodeMessageInput {
  code: string;
  expiresInMinutes: number;
  firstName?: string;
}

export interface RenderedMessage {
  subject: string | null;
  text: string;
  html: string | null;
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function renderCodeMessage(purpose: OtpPurpose, channel: Channel, input: CodeMessageInput): RenderedMessage {
  const { subject, action } = PURPOSES[purpose];
  const minutes = `${input.expiresInMinutes} minute${input.expiresInMinutes === 1 ? '' : 's'}`;
  if (channel === 'sms') {
    return {
      subject: null,
      text: `Panic System: your code to ${action} is ${input.code}. It expires in ${minutes}. Never share this code.`,
      html: null,
    };
  }
  const greeting = input.firstName ? `Hello ${input.firstName},` : 'Hello,';
  const text = [
    greeting,
    '',
    `Your code to ${action} is:`,
    '',
    `    ${input.code}`,
    '',
    `It expires in ${minutes}. Never share this code: Panic System staff will never ask for it.`,
    "If you did not ask for it, you can ignore this message.",
  ].join('\n');
  const html = `<!doctype html><html><body style="font-family:sans-serif">
<p>${escapeHtml(greeting)}</p>
<p>Your code to ${escapeHtml(action)} is:</p>
<p style="font-size:28px;font-weight:bold;letter-spacing:4px">${escapeHtml(input.code)}</p>
<p>It expires in ${escapeHtml(minutes)}. <strong>Never share this code</strong>: Panic System staff will never ask for it.</p>
<p style="color:#666">If you did not ask for it, you can ignore this message.</p>
</body></html>`;
  return { subject: `Panic System: ${subject}`, text, html };
}
