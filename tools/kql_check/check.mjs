#!/usr/bin/env node
// KQL checker: parses and semantically analyses a batch of KQL queries against
// Log Analytics table schemas with Microsoft's Kusto.Language analyser
// (npm @kusto/language-service-next, the Bridge.NET build of Kusto.Language).
//
// stdin : {"schemas": {"<Table>": [["Column", "kustoType"], ...], ...},
//          "queries": [{"name": "...", "text": "..."}, ...]}
//         Non-array schema entries (e.g. "_about") are ignored.
// stdout: {"results": [{"name", "diagnostics": [{"severity", "message", "line", "column",
//          "code", "start", "length", "source"}], "errors", "warnings", "columns", "string_literals",
//          "operators"}], "stats": {...}}
//         line/column are 1-based. Only Error and Warning diagnostics are reported.
// exit  : 0 whenever the analysis ran (even with diagnostics); 2 bad input; 3 analyser missing.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";

const require = createRequire(import.meta.url);
const PKG = "@kusto/language-service-next";

function die(code, msg) {
  process.stderr.write(`kql_check: ${msg}\n`);
  process.exit(code);
}

const t0 = performance.now();
try {
  // Bridge.NET runtime first (defines global `Bridge`), then Kusto.Language (defines global `Kusto`).
  require(`${PKG}/bridge.min.js`);
  require(`${PKG}/Kusto.Language.Bridge.min.js`);
} catch (e) {
  die(3, `cannot load ${PKG} (${e.message}). Run \`npm ci\` in the repository root.`);
}
if (typeof globalThis.Kusto === "undefined" || !globalThis.Kusto.Language) {
  die(3, `${PKG} loaded but did not define the Kusto global. Run \`npm ci\` in the repository root.`);
}
const tLoad = performance.now();

const K = globalThis.Kusto.Language;
const S = K.Symbols;
const KIND_NAMES = {};
for (const [k, v] of Object.entries(K.Syntax.SyntaxKind)) if (typeof v === "number") KIND_NAMES[v] = k;
const REPORTED = new Set(["Error", "Warning"]);

function list(netList) {
  const out = [];
  if (!netList) return out;
  for (let i = 0; i < netList.Count; i++) out.push(netList.getItem(i));
  return out;
}

function buildGlobals(schemas) {
  const tables = [];
  for (const [table, cols] of Object.entries(schemas)) {
    if (!Array.isArray(cols)) continue; // "_about" and other metadata
    const columns = cols.map((pair) => {
      if (!Array.isArray(pair) || pair.length < 2) die(2, `table ${table}: bad column entry ${JSON.stringify(pair)}`);
      const [name, typeName] = pair;
      const type = S.ScalarTypes.GetSymbol(String(typeName));
      if (!type) die(2, `table ${table}: unknown Kusto type ${JSON.stringify(typeName)} for column ${name}`);
      return new S.ColumnSymbol(String(name), type, null, null, null, null);
    });
    tables.push(new S.TableSymbol.$ctor4(table, columns));
  }
  // isOpen=false: an unknown table name is an error.
  const db = new S.DatabaseSymbol.$ctor1("LogAnalytics", tables, false);
  return K.GlobalState.Default.WithDatabase(db);
}

function insideFunctionBody(node) {
  for (let p = node.Parent; p; p = p.Parent) if (KIND_NAMES[p.Kind] === "FunctionBody") return true;
  return false;
}

function ownDiagnostic(code, message, start, length, kustoCode) {
  const line = { v: 1 };
  const col = { v: 1 };
  kustoCode.TryGetLineAndOffset(start, line, col);
  return { severity: "Error", message, line: line.v || 1, column: col.v || 1, code, start, length, source: "kql_check" };
}

function analyse(globals, query) {
  const text = String(query.text ?? "");
  const code = K.KustoCode.ParseAndAnalyze(text, globals);
  const diagnostics = [];
  // Parser + binder diagnostics (errors), then the editor's analyzers (best-practice warnings such as
  // "join without kind" KS508 or "variable shadowed by a column" KS510). Suggestions are dropped.
  const found = list(code.GetDiagnostics()).map((d) => [d, "kusto"]);
  if (code.HasSemantics) {
    const service = new K.Editor.KustoCodeService.ctor(code);
    for (const d of list(service.GetAnalyzerDiagnostics(true))) found.push([d, "kusto-analyzer"]);
  }
  for (const [d, source] of found) {
    if (!REPORTED.has(d.Severity)) continue;
    const line = { v: 0 };
    const col = { v: 0 };
    code.TryGetLineAndOffset(d.Start, line, col);
    diagnostics.push({
      severity: d.Severity,
      message: d.Message,
      line: line.v,
      column: col.v,
      code: d.Code,
      start: d.Start,
      length: d.Length,
      source,
    });
  }
  const operators = [];
  const literals = [];
  let queryStatements = 0;
  code.Syntax.WalkElements((e) => {
    if (e.IsToken) return;
    const kind = KIND_NAMES[e.Kind];
    if (kind === "ExpressionStatement" && !insideFunctionBody(e)) queryStatements++;
    if (kind === "StringLiteralExpression" || kind === "CompoundStringLiteralExpression") {
      // Parts of a compound literal are not reported separately.
      if (KIND_NAMES[e.Parent?.Kind] !== "CompoundStringLiteralExpression") literals.push(e.LiteralValueInfo.ValueText);
    } else if (kind && kind.endsWith("Operator")) {
      operators.push(kind);
    }
  });
  // Checks of our own (code KQLCHECKnnn, not Kusto.Language): the app sends one query per request
  // and reads one result table, so an empty text or a second query statement is a bug (or an injection).
  if (text.trim() === "") {
    diagnostics.push(ownDiagnostic("KQLCHECK001", "The query text is empty.", 0, 0, code));
  } else if (queryStatements === 0) {
    diagnostics.push(ownDiagnostic("KQLCHECK002", "The query has no query expression (only let/set statements).", 0, text.length, code));
  } else if (queryStatements > 1) {
    diagnostics.push(
      ownDiagnostic("KQLCHECK003", `The query has ${queryStatements} query expression statements; exactly one expected.`, 0, text.length, code),
    );
  }
  let columns = null;
  const rt = code.ResultType;
  if (rt && rt.Columns) columns = list(rt.Columns).map((c) => [c.Name, c.Type ? c.Type.Name : null]);
  return {
    name: query.name,
    diagnostics,
    errors: diagnostics.filter((d) => d.severity === "Error").length,
    warnings: diagnostics.filter((d) => d.severity === "Warning").length,
    columns,
    string_literals: literals,
    operators,
  };
}

let input;
try {
  input = JSON.parse(readFileSync(0, "utf8"));
} catch (e) {
  die(2, `stdin is not valid JSON: ${e.message}`);
}
if (!input || typeof input.schemas !== "object" || !Array.isArray(input.queries)) {
  die(2, 'expected {"schemas": {...}, "queries": [{"name": ..., "text": ...}]}');
}
const globals = buildGlobals(input.schemas);
const results = input.queries.map((q) => analyse(globals, q));
const tEnd = performance.now();
process.stdout.write(
  JSON.stringify({
    results,
    stats: {
      queries: results.length,
      load_ms: Math.round(tLoad - t0),
      analyse_ms: Math.round(tEnd - tLoad),
      analyser_version: require(`${PKG}/package.json`).version,
    },
  }) + "\n",
);
