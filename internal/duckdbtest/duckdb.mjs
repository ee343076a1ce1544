// Reads SQL queries (a JSON array of strings) from stdin, runs each in DuckDB with
// FILE replaced by the path given as the first argument, and prints the results as JSON:
// an array with the rows of each query (DuckDB's JSON form of its values). Used by
// duckdbtest.Query, so that tests read exports with a reader other than the writer.
import { DuckDBInstance } from '@duckdb/node-api';
import { readFileSync } from 'node:fs';

const file = process.argv[2];
const queries = JSON.parse(readFileSync(0, 'utf8'));
const db = await DuckDBInstance.create(':memory:');
const conn = await db.connect();
const out = [];
for (const q of queries) {
  const reader = await conn.runAndReadAll(q.replaceAll('FILE', "'" + file.replaceAll("'", "''") + "'"));
  out.push(reader.getRowObjectsJson());
}
console.log(JSON.stringify(out));
