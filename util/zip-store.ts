/**
 * A zip writer for uncompressed (STORED) entries, enough for PyTorch's serialization: each entry's data
 * can start at a multiple of `align` bytes from the start of the file (PyTorch pads its local headers
 * with an extra field for 64-byte alignment, so a reader may map tensors in place). No zip64: entries
 * and the archive must stay under 4 GiB. Spec: PKWARE APPNOTE.TXT, sections 4.3.7, 4.3.12, 4.3.16.
 */
import { writeAllSync, writeFileAtomicWith } from './atomic-write.ts';
import { crc32 } from 'node:zlib';
import { UserError } from './errors.ts';

export interface ZipEntry { name: string; data: Uint8Array }

const LIMIT = 0xffffffff;
/** header id of the padding extra field PyTorch writes ("FB") */
const PAD_ID = 0x4246;
/** DOS date 1980-01-01 00:00: a fixed time keeps the file a pure function of its contents */
const DOS_TIME = 0, DOS_DATE = (0 << 9) | (1 << 5) | 1;

/** Writes the archive to `path` atomically (util/atomic-write.ts). */
export function writeStoredZip(path: string, entries: ZipEntry[], align = 64): void {
  writeFileAtomicWith(path, (fd) => {
    let pos = 0;
    const put = (b: Uint8Array) => { writeAllSync(fd, b); pos += b.length; };
    const central: Buffer[] = [];
    for (const e of entries) {
      const name = Buffer.from(e.name, 'utf8');
      if (e.data.length > LIMIT) throw new UserError(`${path}: entry ${e.name} is ${e.data.length} bytes, over the 4 GiB a zip without zip64 holds`);
      const crc = crc32(e.data) >>> 0;
      const offset = pos;
      // padding so that the data starts at a multiple of `align`; an extra field is at least 4 bytes
      const bare = offset + 30 + name.length;
      const pad = (align - ((bare + 4) % align)) % align;
      const extra = Buffer.alloc(4 + pad);
      extra.writeUInt16LE(PAD_ID, 0);
      extra.writeUInt16LE(pad, 2);
      const local = Buffer.alloc(30);
      local.writeUInt32LE(0x04034b50, 0);
      local.writeUInt16LE(20, 4);            // version needed: 2.0
      local.writeUInt16LE(1 << 11, 6);       // flags: names are UTF-8
      local.writeUInt16LE(0, 8);             // method: stored
      local.writeUInt16LE(DOS_TIME, 10);
      local.writeUInt16LE(DOS_DATE, 12);
      local.writeUInt32LE(crc, 14);
      local.writeUInt32LE(e.data.length, 18);
      local.writeUInt32LE(e.data.length, 22);
      local.writeUInt16LE(name.length, 26);
      local.writeUInt16LE(extra.length, 28);
      put(local); put(name); put(extra); put(e.data);
      const cd = Buffer.alloc(46);
      cd.writeUInt32LE(0x02014b50, 0);
      cd.writeUInt16LE(20, 4);               // made by: 2.0
      cd.writeUInt16LE(20, 6);
      cd.writeUInt16LE(1 << 11, 8);
      cd.writeUInt16LE(0, 10);
      cd.writeUInt16LE(DOS_TIME, 12);
      cd.writeUInt16LE(DOS_DATE, 14);
      cd.writeUInt32LE(crc, 16);
      cd.writeUInt32LE(e.data.length, 20);
      cd.writeUInt32LE(e.data.length, 24);
      cd.writeUInt16LE(name.length, 28);
      cd.writeUInt16LE(0, 30);               // no extra field in the central directory
      cd.writeUInt16LE(0, 32);               // no comment
      cd.writeUInt16LE(0, 34);               // disk 0
      cd.writeUInt16LE(0, 36);
      cd.writeUInt32LE(0, 38);
      cd.writeUInt32LE(offset, 42);
      central.push(cd, name);
    }
    const cdStart = pos;
    for (const b of central) put(b);
    const cdSize = pos - cdStart;
    if (pos > LIMIT || entries.length > 0xffff) throw new UserError(`${path}: over 4 GiB or 65,535 entries, which a zip without zip64 cannot hold`);
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(entries.length, 8);
    end.writeUInt16LE(entries.length, 10);
    end.writeUInt32LE(cdSize, 12);
    end.writeUInt32LE(cdStart, 16);
    put(end);
  });
}
