// The aliyungo client program is a module of its own so that the main
// module's ./... leaves it out: it imports github.com/denverdino/aliyungo,
// which comes from Debian's golang-github-denverdino-aliyungo-dev (GOPATH
// layout under /usr/share/gocode, no go.mod), so it is built in GOPATH mode
// (GO111MODULE=off) by clients_aliyungo_test.go.
module cdnd.test/e2e/clients/aliyungo

go 1.26
