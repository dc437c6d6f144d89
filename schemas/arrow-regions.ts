/**
 * Where the buffers of each record batch of an Arrow IPC stream file lie, found by reading only the
 * messages' metadata (positioned reads; bodies are skipped). The phrase store uses it to read a target
 * vector straight out of a phrases part instead of keeping a second copy of the targets.
 * Stream framing: [0xFFFFFFFF][int32 metadata length][flatbuffer Message][body of bodyLength bytes] per
 * message (an old stream omits the 0xFFFFFFFF), ended by a zero length or the end of the file.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { Message } from 'apache-arrow';

export interface BatchBuffers {
  /** rows in the batch */
  rows: number;
  /** absolute byte offset and length in the file of each buffer, in the order of the IPC spec */
  buffers: { offset: number; length: number }[];
}

function readExactly(fd: number, length: number, position: number): Buffer | null {
  const out = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, out, got, length - got, position + got);
    if (n === 0) return null;
    got += n;
  }
  return out;
}

/** The record batches of the stream in `path`, in order; throws when the file is not an uncompressed Arrow stream. */
export function recordBatchBuffers(path: string): BatchBuffers[] {
  const fd = openSync(path, 'r');
  try {
    const out: BatchBuffers[] = [];
    let pos = 0;
    for (;;) {
      const head = readExactly(fd, 4, pos);
      if (!head) break;
      let len = head.readInt32LE(0);
      pos += 4;
      if (len === -1) {
        const l = readExactly(fd, 4, pos);
        if (!l) throw new Error(`${path}: Arrow stream cut short after a continuation marker`);
        len = l.readInt32LE(0);
        pos += 4;
      }
      if (len === 0) break;
      const meta = readExactly(fd, len, pos);
      if (!meta) throw new Error(`${path}: Arrow stream cut short in a message header`);
      pos += len;
      const msg = Message.decode(meta);
      const body = pos;
      pos += Number(msg.bodyLength);
      if (!msg.isRecordBatch()) continue;
      const rb = msg.header();
      if (rb.compression) throw new Error(`${path}: compressed Arrow buffers cannot be read by position`);
      out.push({ rows: Number(rb.length), buffers: rb.buffers.map((b) => ({ offset: body + Number(b.offset), length: Number(b.length) })) });
    }
    return out;
  } finally {
    closeSync(fd);
  }
}
