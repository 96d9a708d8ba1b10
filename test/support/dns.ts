import { createSocket } from 'node:dgram';
import dnsPacket from 'dns-packet';

const NXDOMAIN = 3;
const SERVFAIL = 2;

export interface DnsFixture {
  /** host:port, as DNS_SERVERS takes it */
  server: string;
  /**
   * TXT records by name, each record as the strings DNS carries it in (one TXT record holds
   * strings of at most 255 bytes). A name not here answers NXDOMAIN; a name with [] has no TXT.
   * May be changed at any time.
   */
  txt: Record<string, string[][]>;
  /** answer; stay silent (a server that never replies); or answer SERVFAIL to everything */
  mode: 'answer' | 'silent' | 'servfail';
  /** every question, in order: the name asked and when it arrived (Date.now()) */
  asked: { name: string; at: number }[];
  close(): Promise<void>;
}

/** A tiny authoritative-for-everything DNS server on 127.0.0.1 UDP that answers TXT questions from `txt`. */
export async function startDnsServer(): Promise<DnsFixture> {
  const socket = createSocket('udp4');
  const fixture: DnsFixture = {
    server: '',
    txt: {},
    mode: 'answer',
    asked: [],
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
  socket.on('message', (buf, peer) => {
    const query = dnsPacket.decode(buf);
    const question = query.questions?.[0];
    if (!question) return;
    const name = question.name.toLowerCase();
    fixture.asked.push({ name, at: Date.now() });
    if (fixture.mode === 'silent') return;
    const records = fixture.txt[name];
    const rcode = fixture.mode === 'servfail' ? SERVFAIL : records === undefined ? NXDOMAIN : 0;
    const answers =
      rcode === 0 && question.type === 'TXT'
        ? records!.map((data) => ({ type: 'TXT' as const, name: question.name, ttl: 60, data }))
        : [];
    const reply = dnsPacket.encode({
      type: 'response',
      id: query.id,
      flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | rcode,
      questions: query.questions,
      answers,
    });
    socket.send(reply, peer.port, peer.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => resolve());
  });
  fixture.server = `127.0.0.1:${socket.address().port}`;
  return fixture;
}
