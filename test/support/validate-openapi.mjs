// Validates an OpenAPI document with the two third-party tools the project holds it to:
// swagger-parser (@apidevtools/swagger-parser: every $ref resolves, the OpenAPI 3.1 schema) and
// Redocly's lint API (@redocly/openapi-core, its `recommended` rules). Both are ES modules, so
// jest's CommonJS tests run this in a child process: the document on stdin, a JSON report on stdout.
import SwaggerParser from '@apidevtools/swagger-parser';
import { createConfig, lintFromString } from '@redocly/openapi-core';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const source = Buffer.concat(chunks).toString('utf8');

let swaggerParser;
try {
  await SwaggerParser.validate(JSON.parse(source));
  swaggerParser = { valid: true };
} catch (error) {
  swaggerParser = { valid: false, error: error instanceof Error ? error.message : String(error) };
}

const config = await createConfig({ extends: ['recommended'] });
const problems = await lintFromString({ source, absoluteRef: 'openapi.json', config });
const redocly = problems.map((p) => ({
  ruleId: p.ruleId,
  severity: p.severity,
  message: p.message,
  pointer: p.location[0]?.pointer,
}));
process.stdout.write(JSON.stringify({ swaggerParser, redocly }));
