/**
 * Turns zod validation issues into messages that name the offending field and value, e.g.
 * `field "limits.maxRequestBytes" must be at least 1, got 0`. Parse with
 * `{ reportInput: true }` so that issues carry the value.
 * @module
 */

import type { z } from "zod";

/** A field path as written in messages: `inputs[0].shape`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out;
}

/** Describes the first issue of a failed parse, e.g. `field "port" must be an integer, got 1.5`. */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue.code === "unrecognized_keys") {
    return `field "${formatPath([...issue.path, issue.keys[0]])}" is not a known field`;
  }
  const path = formatPath(issue.path);
  const subject = path === "" ? "the value" : `field "${path}"`;
  const got = "input" in issue ? `, got ${formatValue(issue.input)}` : "";
  return `${subject} ${requirement(issue)}${got}`;
}

function requirement(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case "invalid_type":
      return `must be ${withArticle(issue.expected === "int" ? "integer" : issue.expected)}`;
    case "too_small": {
      const minimum = Number(issue.minimum);
      if (issue.origin === "string") {
        return minimum === 1 ? "must not be empty" : `must be at least ${minimum} characters long`;
      }
      if (issue.origin === "array") return `must have at least ${minimum} entries`;
      return issue.inclusive ? `must be at least ${minimum}` : `must be greater than ${minimum}`;
    }
    case "too_big": {
      const maximum = Number(issue.maximum);
      if (issue.origin === "array") return `must have at most ${maximum} entries`;
      return issue.inclusive ? `must be at most ${maximum}` : `must be less than ${maximum}`;
    }
    case "invalid_value":
      return `must be one of ${issue.values.map((value) => JSON.stringify(value)).join(", ")}`;
    default:
      return issue.message.startsWith("must ") ? issue.message : `is invalid (${issue.message})`;
  }
}

function withArticle(noun: string): string {
  return /^[aeiou]/.test(noun) ? `an ${noun}` : `a ${noun}`;
}

function formatValue(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}
