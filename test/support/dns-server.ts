import { createSocket, type Socket } from 'node:dgram';

/**
 * A small authoritative DNS server on 127.0.0.1 that answers A queries from a table and
 * NXDOMAIN for everything else, so probes resolve names without any traffic off loopback.
 */
export class LocalDnsServer {
  private socket?: Socket;
  port = 0;

  constructor(private readonly records: Record<string, string>) {}

  set(name: string, address: string | undefined): void {
    if (address === undefined) delete this.records[name];
    else this.records[name] = address;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    const socket = createSocket('udp4');
    this.socket = socket;
    socket.on('message', (msg, rinfo) => {
      const reply = this.answer(msg);
      if (reply) socket.send(reply, rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    this.port = socket.address().port;
    return this;
  }

  private answer(query: Buffer): Buffer | undefined {
    if (query.length < 12) return undefined;
    let offset = 12;
    const labels: string[] = [];
    while (offset < query.length && query[offset] !== 0) {
      const length = query[offset];
      labels.push(query.subarray(offset + 1, offset + 1 + length).toString('ascii'));
      offset += length + 1;
    }
    const questionEnd = offset + 5;
    const type = query.readUInt16BE(offset + 1);
    const name = labels.join('.').toLowerCase();
    const address = this.records[name];
    const header = Buffer.alloc(12);
    query.copy(header, 0, 0, 2);
    const rcode = address === undefined ? 3 : 0;
    header.writeUInt16BE(0x8580 | rcode, 2);
    header.writeUInt16BE(1, 4);
    const answers: Buffer[] = [];
    if (address !== undefined && type === 1) {
      const record = Buffer.alloc(16);
      record.writeUInt16BE(0xc00c, 0);
      record.writeUInt16BE(1, 2);
      record.writeUInt16BE(1, 4);
      record.writeUInt32BE(5, 6);
      record.writeUInt16BE(4, 10);
      address.split('.').forEach((octet, i) => record.writeUInt8(Number(octet), 12 + i));
      answers.push(record);
    }
    header.writeUInt16BE(answers.length, 6);
    return Buffer.concat([header, query.subarray(12, questionEnd), ...answers]);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.socket ? this.socket.close(() => resolve()) : resolve()));
  }
}
