/**
 * 32-bit digests for the simulator's data-flow model: storages hold a digest instead of bytes, so
 * that a restored task can be checked against an uninterrupted run without a GPU.
 * @module
 */

/** Mixes `value` into `hash` (a murmur3-style finaliser over the xor). */
export function mix32(hash: number, value: number): number {
  let x = (hash ^ Math.imul(value | 0, 0x9e3779b1)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** FNV-1a digest of bytes. */
export function digestBytes(bytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
  return hash >>> 0;
}

/** FNV-1a digest of a string's UTF-16 code units. */
export function digestString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}
