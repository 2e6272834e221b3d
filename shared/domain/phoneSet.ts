// A set of E.164 numbers for deduplicating a million recipients without a million objects: each
// number (at most 15 digits, so exact in a double) is one slot of an open-addressing table in a
// Float64Array, ~16 bytes a number at the table's fill, and nothing for the garbage collector.

const EMPTY = 0;
const MIN_CAPACITY = 1024;

function keyOf(e164: string): number {
  // "+" then 1-15 digits: never 0, so 0 can mark an empty slot.
  return Number(e164.slice(1));
}

export class PhoneSet {
  private slots = new Float64Array(MIN_CAPACITY);
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Memory the table takes. */
  get bytes(): number {
    return this.slots.byteLength;
  }

  /** Adds the number; false when it was already there. */
  add(e164: string): boolean {
    const key = keyOf(e164);
    if (!Number.isSafeInteger(key) || key <= 0) throw new Error(`not an E.164 number: ${e164}`);
    // Grow at half full: probes stay short, and the table is still ~4x smaller than a Set's.
    if ((this.count + 1) * 2 > this.slots.length) this.grow();
    if (!PhoneSet.insert(this.slots, key)) return false;
    this.count++;
    return true;
  }

  has(e164: string): boolean {
    const key = keyOf(e164);
    const { slots } = this;
    const mask = slots.length - 1;
    for (let i = PhoneSet.hash(key) & mask; ; i = (i + 1) & mask) {
      const slot = slots[i];
      if (slot === EMPTY) return false;
      if (slot === key) return true;
    }
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Float64Array(old.length * 2);
    for (const key of old) if (key !== EMPTY) PhoneSet.insert(this.slots, key);
  }

  private static insert(slots: Float64Array, key: number): boolean {
    const mask = slots.length - 1;
    for (let i = PhoneSet.hash(key) & mask; ; i = (i + 1) & mask) {
      const slot = slots[i];
      if (slot === key) return false;
      if (slot === EMPTY) {
        slots[i] = key;
        return true;
      }
    }
  }

  /** Mixes all the digits in: numbers of one country share their leading ones. */
  private static hash(key: number): number {
    const high = Math.floor(key / 0x100000000);
    let h = Math.imul((key >>> 0) ^ Math.imul(high, 0x9e3779b1), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    return (h ^ (h >>> 16)) >>> 0;
  }
}
