/**
 * Matching the names in benchmark annotations to gallery ids. starword's ids are relative paths or
 * manifest ids ("dev/dev-190-0-img0.png", "unlabeled2017/000000271520.jpg"), the annotations use bare
 * names ("dev-190-0-img0") or COCO integers (271520). An exact id wins; otherwise the file stem of the
 * id, with leading zeros dropped when it is all digits, matches the annotation name. A stem shared by two
 * gallery ids matches neither (reported as ambiguous rather than guessed).
 */

/** The loose key of an id: basename without extension; all-digit stems lose leading zeros. */
export function idKey(id: string): string {
  const base = id.slice(Math.max(id.lastIndexOf('/'), id.lastIndexOf('\\')) + 1);
  const dot = base.lastIndexOf('.');
  const stem = dot > 0 ? base.slice(0, dot) : base;
  if (/^\d+$/.test(stem)) return stem.replace(/^0+(?=\d)/, '');
  return stem;
}

export class IdResolver {
  private readonly exact: Set<string>;
  private readonly byKey = new Map<string, string | null>();

  constructor(galleryIds: Iterable<string>) {
    this.exact = new Set(galleryIds);
    for (const id of this.exact) {
      const key = idKey(id);
      this.byKey.set(key, this.byKey.has(key) && this.byKey.get(key) !== id ? null : id);
    }
  }

  get size(): number { return this.exact.size; }

  /** The gallery id of an annotation name, or undefined when absent (or ambiguous). */
  resolve(name: string | number): string | undefined {
    const s = String(name);
    if (this.exact.has(s)) return s;
    return this.byKey.get(idKey(s)) ?? undefined;
  }

  /** Whether `name` matched more than one gallery id by stem. */
  ambiguous(name: string | number): boolean {
    const s = String(name);
    return !this.exact.has(s) && this.byKey.get(idKey(s)) === null;
  }
}
