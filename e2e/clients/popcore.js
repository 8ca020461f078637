'use strict';
// @alicloud/pop-core against cdnd, once with GET (everything in the query)
// and once with POST (everything, Signature included, in the form body).
// For each method: set a certificate with SetCdnDomainSSLCertificate, read
// it back with DescribeDomainCertificateInfo, and provoke two errors, which
// pop-core surfaces as an Error whose code is the body's Code.

const RPCClient = require('@alicloud/pop-core');
const { env, readFile, version, outcome, main } = require('./lib');

main(async () => {
  const endpoint = env('CDND_ENDPOINT');
  const accessKeyId = env('CDND_ACCESS_KEY_ID');
  const client = (secret) => new RPCClient({ endpoint, apiVersion: '2018-05-10', accessKeyId, accessKeySecret: secret });
  const good = client(env('CDND_ACCESS_KEY_SECRET'));
  const wrong = client('not-the-secret');
  const result = { client: `@alicloud/pop-core@${version('@alicloud/pop-core')}` };
  for (const method of ['GET', 'POST']) {
    const opts = { method, timeout: 10000 };
    const domain = env(`CDND_${method}_DOMAIN`);
    result[method] = {
      set: await outcome(() => good.request('SetCdnDomainSSLCertificate', {
        DomainName: domain,
        SSLProtocol: 'on',
        CertType: 'upload',
        CertName: env(`CDND_${method}_CERT_NAME`),
        SSLPub: readFile(`CDND_${method}_CERT`),
        SSLPri: readFile(`CDND_${method}_KEY`),
      }, opts)),
      info: await outcome(() => good.request('DescribeDomainCertificateInfo', { DomainName: domain }, opts)),
      notFound: await outcome(() => good.request('DescribeDomainCertificateInfo', { DomainName: env('CDND_MISSING_DOMAIN') }, opts)),
      wrongSecret: await outcome(() => wrong.request('DescribeDomainCertificateInfo', { DomainName: domain }, opts)),
    };
  }
  return result;
});
