package iface_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/iotbaseline/baseline/iface"
)

// The device's TLS server and a client pinned to its self-signed
// certificate negotiate TLS 1.3 with the hybrid post-quantum group.
func ExampleServerTLS() {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader) // the device identity key
	cert, err := iface.SelfSigned(key, []string{"plug.local"}, 0)
	if err != nil {
		panic(err)
	}
	server, err := iface.ServerTLS(iface.TLSOptions{Certificates: []tls.Certificate{cert}})
	if err != nil {
		panic(err)
	}
	pinned := x509.NewCertPool()
	pinned.AddCert(cert.Leaf)
	client, _ := iface.ClientTLS(iface.TLSOptions{RootCAs: pinned, ServerName: "plug.local"})

	hs, err := iface.TLSHandshake(context.Background(), server, client)
	if err != nil {
		panic(err)
	}
	fmt.Println(hs.Version, hs.Group)
	// Output: TLS 1.3 X25519MLKEM768
}

// A handler decodes its body strictly; the refusal names the field.
func ExampleDecodeRequest() {
	h := func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			SSID string `json:"ssid"`
		}
		if iface.DecodeRequest(w, r, &req, iface.JSONLimits{}) != nil {
			return
		}
		if err := iface.SSID("ssid", req.SSID); err != nil {
			iface.WriteInputError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
	for _, body := range []string{`{"ssid":"Home"}`, `{"ssid":"a","SSID":"b"}`, `{"ssid":"Home","admin":true}`} {
		req := httptest.NewRequest("POST", "/wifi", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h(rec, req)
		fmt.Println(strings.TrimSpace(fmt.Sprint(rec.Code, " ", rec.Body.String())))
	}
	// Output:
	// 204
	// 400 {"error":"invalid input","field":"SSID","reason":"duplicate key"}
	// 400 {"error":"invalid input","field":"admin","reason":"unknown field"}
}

// Validators return an *InputError naming the field, never the value.
func ExampleURL() {
	for _, u := range []string{
		"https://updates.example.com/v1/",
		"http://updates.example.com/",
		"https://admin:hunter2@example.com/",
	} {
		err := iface.URL("update_url", u)
		var ie *iface.InputError
		if errors.As(err, &ie) {
			fmt.Println(ie.Field, ie.Reason)
			continue
		}
		fmt.Println("ok")
	}
	// Output:
	// ok
	// update_url scheme not allowed
	// update_url credentials in URL
}

// Services are declared once; disabled ones cannot be opened.
func ExampleInventory() {
	inv, err := iface.NewInventory(
		iface.Service{Name: "web", Network: "tcp", Port: 8443, Purpose: "web UI and local API",
			Access: iface.Authenticated, EnabledByDefault: true},
		iface.Service{Name: "ssh", Network: "tcp", Port: 22, Purpose: "service technician access",
			Access: iface.Authenticated},
	)
	if err != nil {
		panic(err)
	}
	_, err = inv.Listen(context.Background(), "ssh")
	fmt.Println(errors.Is(err, iface.ErrDisabled))
	for _, s := range inv.Services() {
		fmt.Println(s.Name, s.Network, s.Port, s.Access, s.Enabled)
	}
	// Output:
	// true
	// ssh tcp 22 authenticated false
	// web tcp 8443 authenticated true
}

// Harden wraps a device's own handler: uniform errors, security headers,
// traversal refused.
func ExampleHarden() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "on") })
	h := iface.Harden(mux, iface.HardenOptions{})
	for _, target := range []string{"/status", "/missing", "/static/%2e%2e/etc/passwd"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
		fmt.Print(rec.Code, " ", rec.Header().Get("X-Content-Type-Options"), " ", rec.Body.String())
		if !strings.HasSuffix(rec.Body.String(), "\n") {
			fmt.Println()
		}
	}
	// Output:
	// 200 nosniff on
	// 404 nosniff {"error":"not found"}
	// 400 nosniff {"error":"invalid input","reason":"path traversal"}
}
