import { readFileSync } from 'node:fs';
import { parseYamlFile } from '../src/load/documents.ts';
const text = readFileSync('/tmp/big100k/domain-0001.yaml', 'utf8');
const r = parseYamlFile('x', text);
console.log(r.documents.length, r.errors, r.documents[0]?.locate.toString().slice(0, 80));
