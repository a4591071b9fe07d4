/**
 * reef's version and the Deno versions it supports.
 * @module
 */

/** reef's own version. */
export const VERSION = "0.1.0";

/** The Deno minor line reef is built and tested with. */
export const DENO_LINE = "2.9";

/** Throws if this Deno is not of the supported line (JSR-free npm installs pin 2.9.x). */
export function checkDenoVersion(version: string = Deno.version.deno): void {
  if (!version.startsWith(`${DENO_LINE}.`)) {
    throw new Error(
      `reef needs Deno ${DENO_LINE}.x, this is Deno ${version}: install it with ` +
        `\`npm install -g deno@${DENO_LINE}.6\``,
    );
  }
}
