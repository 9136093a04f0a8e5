// A private CA and server certificates, made with `openssl` in a temporary directory, for tests of
// TLS verification against a local HTTPS server.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ServerCertificate {
  key: string;
  cert: string;
}

export interface TestPki {
  dir: string;
  /** The CA's certificate (PEM) and its file. */
  caPem: string;
  caFile: string;
  /** For 127.0.0.1 and localhost, valid now. */
  server: ServerCertificate;
  /** For 127.0.0.1 and localhost, expired in 2020. */
  expired: ServerCertificate;
  /** Valid now, but for mail.example.org only. */
  otherName: ServerCertificate;
}

// `openssl ca` (rather than `x509 -req`) because it takes a start and end date: OpenSSL 3.0 cannot backdate otherwise.
const CA_CONFIG = `[ ca ]
default_ca = test_ca
[ test_ca ]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any_name
copy_extensions = copy
unique_subject = no
[ any_name ]
commonName = supplied
`;

export async function makeTestPki(dir: string): Promise<TestPki> {
  const openssl = (...args: string[]) => run('openssl', args, { cwd: dir });
  await writeFile(path.join(dir, 'ca.cnf'), CA_CONFIG);
  await writeFile(path.join(dir, 'index.txt'), '');
  await writeFile(path.join(dir, 'serial'), '01\n');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=mailops test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');

  const issue = async (name: string, altNames: string, dates: string[]): Promise<ServerCertificate> => {
    await openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`, '-addext', `subjectAltName=${altNames}`);
    await openssl('ca', '-batch', '-config', 'ca.cnf', '-keyfile', 'ca.key', '-cert', 'ca.pem', '-in', `${name}.csr`, '-out', `${name}.pem`, '-notext', ...dates);
    return { key: await readFile(path.join(dir, `${name}.key`), 'utf8'), cert: await readFile(path.join(dir, `${name}.pem`), 'utf8') };
  };
  const server = await issue('server', 'IP:127.0.0.1,DNS:localhost', ['-days', '2']);
  const expired = await issue('expired', 'IP:127.0.0.1,DNS:localhost', ['-startdate', '20200101000000Z', '-enddate', '20200102000000Z']);
  const otherName = await issue('other', 'DNS:mail.example.org', ['-days', '2']);
  const caFile = path.join(dir, 'ca.pem');
  return { dir, caPem: await readFile(caFile, 'utf8'), caFile, server, expired, otherName };
}
