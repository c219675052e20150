#!/usr/bin/env node
// Adaptive Card checker: parses each card with Microsoft's Adaptive Cards JavaScript library (npm
// `adaptivecards`, the renderer of the HTML clients) at the schema version the card declares, and reports what
// the library reports: unknown element or action types, invalid property values, properties newer than the
// declared version, missing required values (an Action.OpenUrl without url, a card without its type).
//
// stdin : one JSON object per line, {"card": {...}}
// stdout: one line per input line, {"version": "1.4", "problems": ["UnknownElementType: ...", ...]}
// exit  : 0 when every line was answered (problems or not); 2 bad input; 3 library missing.
// The process answers line by line, so a caller can keep it running and send cards one at a time.
import { createRequire } from "node:module";
import { createInterface } from "node:readline";

const require = createRequire(import.meta.url);
let AC;
try {
  // The UMD bundle: the package's ES modules use extension-less imports that Node cannot resolve.
  AC = require("adaptivecards/dist/adaptivecards.min.js");
} catch (e) {
  process.stderr.write(`card_check: cannot load adaptivecards (${e.message}). Run \`npm ci\` in the repository root.\n`);
  process.exit(3);
}

const VERSIONS = Object.fromEntries(Object.values(AC.Versions).map((v) => [v.toString(), v]));

function describe(event) {
  return `${AC.ValidationEvent[event.event]}: ${event.message}`;
}

function check(card) {
  if (card === null || typeof card !== "object" || Array.isArray(card)) {
    return { version: null, problems: ["the card is not a JSON object"] };
  }
  const declared = typeof card.version === "string" ? card.version : null;
  const version = VERSIONS[declared];
  if (!version) {
    return { version: declared, problems: [`version ${JSON.stringify(card.version)} is not an Adaptive Card schema version (${Object.keys(VERSIONS).join(", ")})`] };
  }
  const context = new AC.SerializationContext(version);
  const parsed = new AC.AdaptiveCard();
  parsed.parse(card, context);
  const problems = [];
  for (let i = 0; i < context.eventCount; i++) problems.push(describe(context.getEventAt(i)));
  for (const event of parsed.validateProperties().validationEvents) problems.push(describe(event));
  return { version: declared, problems };
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) continue;
  let input;
  try {
    input = JSON.parse(line);
  } catch (e) {
    process.stderr.write(`card_check: a line is not JSON: ${e.message}\n`);
    process.exit(2);
  }
  process.stdout.write(JSON.stringify(check(input?.card)) + "\n");
}
