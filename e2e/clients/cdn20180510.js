'use strict';
// @alicloud/cdn20180510, the official generated (darabonba/tea) client,
// against cdnd: once signing V3 (ACS3-HMAC-SHA256, its default) and once V1
// (HMAC-SHA1, with signatureAlgorithm 'v2'). For each: set a certificate with
// SetCdnDomainSSLCertificate, read it back with DescribeDomainCertificateInfo
// and provoke two errors, which it surfaces as ClientError with code,
// statusCode and data (the parsed body). V3 also lists the HTTPS domains and
// sets, describes, refuses and deletes a domain configuration.

const Cdn = require('@alicloud/cdn20180510');
const { $OpenApiUtil } = require('@alicloud/openapi-core');
const { env, readFile, version, outcome, main } = require('./lib');

const Client = Cdn.default;

main(async () => {
  const endpoint = env('CDND_ENDPOINT'); // host:port, sent and signed as the host header
  const accessKeyId = env('CDND_ACCESS_KEY_ID');
  const client = (accessKeySecret, signatureAlgorithm) => new Client(new $OpenApiUtil.Config({
    accessKeyId, accessKeySecret, endpoint, protocol: 'HTTP', signatureAlgorithm,
  }));
  const result = {
    client: `@alicloud/cdn20180510@${version('@alicloud/cdn20180510')} (@alicloud/openapi-core@${version('@alicloud/openapi-core')})`,
  };
  // 'v2' is the client's name for the RPC HMAC-SHA1 signature (V1 in the docs).
  for (const [mode, algorithm] of [['V3', undefined], ['V1', 'v2']]) {
    const good = client(env('CDND_ACCESS_KEY_SECRET'), algorithm);
    const wrong = client('not-the-secret', algorithm);
    const domain = env(`CDND_${mode}_DOMAIN`);
    const info = (c, name) => c.describeDomainCertificateInfo(new Cdn.DescribeDomainCertificateInfoRequest({ domainName: name }));
    const r = {
      set: await outcome(() => good.setCdnDomainSSLCertificate(new Cdn.SetCdnDomainSSLCertificateRequest({
        domainName: domain,
        SSLProtocol: 'on',
        certType: 'upload',
        certName: env(`CDND_${mode}_CERT_NAME`),
        SSLPub: readFile(`CDND_${mode}_CERT`),
        SSLPri: readFile(`CDND_${mode}_KEY`),
      }))),
      info: await outcome(() => info(good, domain)),
      notFound: await outcome(() => info(good, env('CDND_MISSING_DOMAIN'))),
      wrongSecret: await outcome(() => info(wrong, domain)),
    };
    if (mode === 'V3') {
      r.httpsList = await outcome(() => good.describeCdnHttpsDomainList(new Cdn.DescribeCdnHttpsDomainListRequest({ pageSize: 20 })));
      const setConfig = (functions) => good.batchSetCdnDomainConfig(new Cdn.BatchSetCdnDomainConfigRequest({ domainNames: domain, functions }));
      r.setConfig = await outcome(() => setConfig(JSON.stringify([
        { functionName: 'https_force', functionArgs: [{ argName: 'enable', argValue: 'on' }] },
      ])));
      r.describeConfigs = await outcome(() => good.describeCdnDomainConfigs(new Cdn.DescribeCdnDomainConfigsRequest({
        domainName: domain, functionNames: 'https_force',
      })));
      r.badConfig = await outcome(() => setConfig('[{'));
      const configId = r.setConfig.ok ? String(r.setConfig.body.body.domainConfigList.domainConfigModel[0].configId) : '0';
      r.deleteConfig = await outcome(() => good.deleteSpecificConfig(new Cdn.DeleteSpecificConfigRequest({ domainName: domain, configId })));
    }
    result[mode] = r;
  }
  return result;
});
