// Command gui-dial connects to a Pactus node as Pactus's GUI does with `-grpc-addr`, so the
// tests can check that a deployed node serves it: the address is parsed by Pactus's own
// util.ParseGRPCAddr, and the URL's path is put before every method, as cmd/gtk's
// newRemoteGRPCConn does (its interceptors are unexported in package main, so they are
// repeated here line for line). It makes one call and prints its outcome as one JSON line:
//
//	gui-dial [-testnet] -grpc-addr https://node.example.com/grpc-web blockchain-info|list-wallets|sign-with-private-key
//
// TLS trusts the system's roots, as the GUI does; SSL_CERT_FILE points it at a test CA.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/pactus-project/pactus/crypto"
	"github.com/pactus-project/pactus/crypto/bls"
	"github.com/pactus-project/pactus/util"
	pactus "github.com/pactus-project/pactus/www/grpc/gen/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

type outcome struct {
	Target   string          `json:"target"`
	Prefix   string          `json:"prefix"`
	Code     string          `json:"code"`
	Message  string          `json:"message"`
	Response json.RawMessage `json:"response,omitempty"`
}

func main() {
	addr := flag.String("grpc-addr", "", "the node's address, as the GUI's -grpc-addr takes it")
	testnet := flag.Bool("testnet", false, "the node runs testnet: keys are written as testnet's")
	flag.Parse()
	// Pactus's own test key (www/grpc/utils_test.go), which holds nothing; read as mainnet's.
	key, err := bls.PrivateKeyFromString("SECRET1PDRWTLP5PX0FAHDX39GXZJP7FKZFALML0D5U9TT9KVQHDUC99CMGQQJVK67")
	if err != nil {
		panic(err)
	}
	if *testnet {
		crypto.ToTestnetHRP()
	}
	if *addr == "" || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: gui-dial -grpc-addr URL blockchain-info|list-wallets|sign-with-private-key")
		os.Exit(2)
	}
	target, prefix, err := util.ParseGRPCAddr(*addr, false)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gui-dial:", err)
		os.Exit(2)
	}
	conn, err := grpc.NewClient(target,
		grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})),
		grpc.WithUnaryInterceptor(methodPrefixUnaryInterceptor(prefix)),
		grpc.WithStreamInterceptor(methodPrefixStreamInterceptor(prefix)),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gui-dial:", err)
		os.Exit(2)
	}
	defer conn.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var response proto.Message
	switch flag.Arg(0) {
	case "blockchain-info":
		response, err = pactus.NewBlockchainClient(conn).GetBlockchainInfo(ctx, &pactus.GetBlockchainInfoRequest{})
	case "list-wallets":
		response, err = pactus.NewWalletClient(conn).ListWallets(ctx, &pactus.ListWalletsRequest{})
	case "sign-with-private-key":
		response, err = pactus.NewUtilsClient(conn).SignMessageWithPrivateKey(ctx, &pactus.SignMessageWithPrivateKeyRequest{
			PrivateKey: key.String(),
			Message:    "pactus-secure test",
		})
	default:
		fmt.Fprintln(os.Stderr, "gui-dial: unknown call", flag.Arg(0))
		os.Exit(2)
	}
	result := outcome{Target: target, Prefix: prefix, Code: status.Code(err).String()}
	if err != nil {
		result.Message = status.Convert(err).Message()
	} else if result.Response, err = protojson.Marshal(response); err != nil {
		fmt.Fprintln(os.Stderr, "gui-dial:", err)
		os.Exit(2)
	}
	line, _ := json.Marshal(result)
	fmt.Println(string(line))
}

func methodPrefixUnaryInterceptor(prefix string) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any,
		cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption,
	) error {
		return invoker(ctx, prefix+method, req, reply, cc, opts...)
	}
}

func methodPrefixStreamInterceptor(prefix string) grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc,
		cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption,
	) (grpc.ClientStream, error) {
		return streamer(ctx, desc, cc, prefix+method, opts...)
	}
}
