// Command vcsimlite serves govmomi's in-memory vSphere model (simulator
// package) over SOAP, for the vSphere backend's tests.  Debian's
// golang-github-vmware-govmomi-dev ships the simulator library but not the
// vcsim command, so the tests build this small main instead, in GOPATH mode:
//
//	GO111MODULE=off GOFLAGS= GOPATH=<this tree>:/usr/share/gocode \
//	    go build -o vcsimlite vcsimlite
//
// It prints one line, "vcsimlite ready <url>", once the server listens, and
// stops on SIGTERM or SIGINT.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"github.com/vmware/govmomi/simulator"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:0", "address to listen on (host:port)")
	standalone := flag.Bool("esx", false, "model a single ESX host instead of a vCenter")
	hosts := flag.Int("hosts", 1, "standalone hosts per datacenter (vCenter model)")
	clusters := flag.Int("clusters", 0, "clusters per datacenter (vCenter model)")
	clusterHosts := flag.Int("cluster-hosts", 2, "hosts per cluster (vCenter model)")
	vms := flag.Int("vms", 2, "virtual machines per resource pool")
	poweredOn := flag.Bool("autostart", true, "power the generated VMs on")
	user := flag.String("username", "", "the only user accepted (empty: any user)")
	password := flag.String("password", "", "the password of -username")
	useTLS := flag.Bool("tls", true, "serve https with the simulator's self-signed certificate")
	flag.Parse()

	var model *simulator.Model
	if *standalone {
		model = simulator.ESX()
	} else {
		model = simulator.VPX()
		model.Host = *hosts
		model.Cluster = *clusters
		model.ClusterHost = *clusterHosts
	}
	model.Machine = *vms
	model.Autostart = *poweredOn
	if err := model.Create(); err != nil {
		fmt.Fprintln(os.Stderr, "vcsimlite: cannot build the model:", err)
		os.Exit(1)
	}
	defer model.Remove()

	model.Service.Listen = &url.URL{Host: *addr}
	if *user != "" {
		model.Service.Listen.User = url.UserPassword(*user, *password)
	}
	if *useTLS {
		model.Service.TLS = &tls.Config{}
	}
	model.Service.RegisterEndpoints = true
	server := model.Service.NewServer()
	defer server.Close()

	count := model.Count()
	fmt.Printf("vcsimlite ready %s://%s%s hosts=%d vms=%d\n", server.URL.Scheme, server.URL.Host, server.URL.Path, count.Host, count.Machine)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}
