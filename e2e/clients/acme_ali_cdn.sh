#!/bin/sh
# The wire behaviour of acme.sh's Alibaba Cloud CDN deploy hook
# (deploy/ali_cdn.sh with dnsapi/dns_ali.sh's REST helper), reproduced with the
# same shell tools, for cdnd's e2e test (clients_acmesh_test.go):
#   - the query is written by hand in sorted order, values upper-hex
#     percent-encoded (the PEM files too), Timestamp with its colons encoded;
#   - it is signed as a POST (HMAC-SHA1 of "POST&%2F&" + the encoded query,
#     key "secret&"), the Signature goes in the URL and every other parameter
#     in the form body;
#   - success or failure is read from the raw body alone: a "Message":"..."
#     (compact, no space after the colon) means failure; the HTTP status and
#     the curl exit code on a 4xx are not looked at.
# It deploys the certificate to CDND_DOMAIN (must succeed), then to
# CDND_MISSING_DOMAIN and with a wrong secret (both must fail), and prints
# one JSON object: per step, the message acme.sh would log, the Code found
# the same way, and the raw body in base64.
set -eu

endpoint="$CDND_ENDPOINT_URL" # http://127.0.0.1:PORT/
key_id="$CDND_ACCESS_KEY_ID"

# upper-hex percent-encoding of stdin: unreserved bytes stay, the rest %XX.
urlencode() {
	od -An -v -tx1 | awk '
		BEGIN { for (i = 0; i < 256; i++) num[sprintf("%02x", i)] = i }
		{
			for (f = 1; f <= NF; f++) {
				n = num[$f]
				if ((n >= 48 && n <= 57) || (n >= 65 && n <= 90) || (n >= 97 && n <= 122) || n == 45 || n == 46 || n == 95 || n == 126)
					printf "%c", n
				else
					printf "%%%s", toupper($f)
			}
		}'
}

# field NAME BODY: the value of the first "NAME":"..." in BODY, as acme.sh
# extracts it (grep -o, then the text between the first two colons, quotes
# dropped).
field() {
	printf '%s' "$2" | grep -o -E "\"$1\":\"[^\"]*\"" | head -n 1 | cut -d : -f 2 | tr -d '"'
}

# deploy DOMAIN SECRET: one SetCdnDomainSSLCertificate call; sets $response.
deploy() {
	query="AccessKeyId=$key_id"
	query="$query&Action=SetCdnDomainSSLCertificate"
	query="$query&CertType=upload"
	query="$query&DomainName=$1"
	query="$query&Format=json"
	query="$query&SSLPri=$pri"
	query="$query&SSLProtocol=on"
	query="$query&SSLPub=$pub"
	query="$query&SignatureMethod=HMAC-SHA1"
	query="$query&SignatureNonce=$(openssl rand -hex 16)"
	query="$query&SignatureVersion=1.0"
	query="$query&Timestamp=$(date -u +%Y-%m-%dT%H%%3A%M%%3A%SZ)"
	query="$query&Version=2018-05-10"
	signature=$(printf '%s' "POST&%2F&$(printf '%s' "$query" | urlencode)" |
		openssl dgst -sha1 -hmac "$2&" -binary | openssl base64 -A | urlencode)
	response=$(curl -sS --noproxy '*' -X POST -H 'Content-Type: application/x-www-form-urlencoded' \
		--data "$query" "$endpoint?Signature=$signature")
}

# step NAME: the JSON member for the last call.
step() {
	message=$(field Message "$response")
	code=$(field Code "$response")
	raw=$(printf '%s' "$response" | base64 | tr -d '\n')
	printf '"%s":{"message":"%s","code":"%s","raw":"%s"}' "$1" "$message" "$code" "$raw"
}

pub=$(urlencode <"$CDND_FULLCHAIN")
pri=$(urlencode <"$CDND_KEY")

printf '{'
deploy "$CDND_DOMAIN" "$CDND_ACCESS_KEY_SECRET"
step deploy
printf ','
deploy "$CDND_MISSING_DOMAIN" "$CDND_ACCESS_KEY_SECRET"
step notFound
printf ','
deploy "$CDND_DOMAIN" not-the-secret
step wrongSecret
printf '}\n'
