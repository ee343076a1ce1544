package cluster

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pki writes a self-signed CA and a certificate it signs for 127.0.0.1 (server and
// client use) under dir, and returns the TLS options naming them.
func pki(t *testing.T, dir, name string) TLSOptions {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name + " CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(file, kind string, der []byte) string {
		p := filepath.Join(dir, file)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return TLSOptions{
		CA:   write(name+"-ca.pem", "CERTIFICATE", caDER),
		Cert: write(name+".pem", "CERTIFICATE", leafDER),
		Key:  write(name+"-key.pem", "EC PRIVATE KEY", keyDER),
	}
}

// TestConnectTLS starts an embedded server that serves TLS and requires client
// certificates from its CA: a replica with the CA and a certificate connects and uses
// JetStream; one without a client certificate, or trusting another CA, is refused.
func TestConnectTLS(t *testing.T) {
	dir := t.TempDir()
	good := pki(t, dir, "good")
	other := pki(t, dir, "other")
	o := DefaultOptions()
	o.Name = "tls0"
	o.Replicas = 1
	o.Embedded.Listen = fmt.Sprintf("127.0.0.1:%d", freePorts(t, 1)[0])
	o.Embedded.StoreDir = filepath.Join(dir, "nats")
	o.TLS = good
	s, err := StartServer(o, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	nc, js, err := Connect(ctx, o, testLog(t))
	if err != nil {
		t.Fatalf("connect with the CA and a client certificate: %v", err)
	}
	defer nc.Close()
	if !nc.TLSRequired() {
		t.Fatalf("connection is not TLS")
	}
	if _, err := Ensure(ctx, js, o); err != nil {
		t.Fatal(err)
	}
	if _, err := publish(ctx, js, "t1", 2*time.Second); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		tls  TLSOptions
		want string // in the error
	}{
		{"no client certificate", TLSOptions{CA: good.CA}, "tls"},
		{"another CA", TLSOptions{CA: other.CA, Cert: good.Cert, Key: good.Key}, "tls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := o
			bad.TLS = tc.tls
			// Short: a refused handshake is retried until the deadline.
			ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
			defer cancel()
			nc, _, err := Connect(ctx, bad, testLog(t))
			if err == nil {
				nc.Close()
				t.Fatalf("connected")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

// TestConnectCredsMissing: a credentials file that is not there is a clear error, not a
// connection retried forever.
func TestConnectCredsMissing(t *testing.T) {
	o := DefaultOptions()
	o.Name = "r0"
	o.URLs = []string{"nats://127.0.0.1:1"}
	o.Creds = filepath.Join(t.TempDir(), "none.creds")
	_, _, err := Connect(t.Context(), o, nil)
	if err == nil || !strings.Contains(err.Error(), "cluster.creds") {
		t.Fatalf("err %v, want one naming cluster.creds", err)
	}
}
