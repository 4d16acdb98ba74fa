// Command kube is mkube's multi-call Kubernetes binary (in the spirit of the
// old hyperkube and of k3s): one executable that holds kubeadm, kubelet,
// kubectl, kube-apiserver, kube-controller-manager, kube-scheduler and
// kube-proxy. It picks the component from the name it was started under
// (argv[0], e.g. a hardlink or a copy named "kubelet") or, when started as
// "kube", from its first argument ("kube kubectl get pods").
//
// Each branch does exactly what the component's own main() in
// k8s.io/kubernetes/cmd/<name> does.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	_ "time/tzdata" // CronJob time zones (kube-apiserver, kube-controller-manager)

	"github.com/spf13/cobra"

	_ "k8s.io/client-go/plugin/pkg/client/auth" // kubectl auth plugins
	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	_ "k8s.io/component-base/logs/json/register"          // JSON log format
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	kubectlutil "k8s.io/kubectl/pkg/cmd/util"

	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	proxy "k8s.io/kubernetes/cmd/kube-proxy/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
	kubeadm "k8s.io/kubernetes/cmd/kubeadm/app"
	kubeadmerrors "k8s.io/kubernetes/cmd/kubeadm/app/util/errors"
	kubelet "k8s.io/kubernetes/cmd/kubelet/app"
)

func runCobra(newCmd func() *cobra.Command) int {
	return cli.Run(newCmd())
}

var components = map[string]func() int{
	"kube-apiserver":          func() int { return runCobra(apiserver.NewAPIServerCommand) },
	"kube-controller-manager": func() int { return runCobra(controllermanager.NewControllerManagerCommand) },
	"kube-scheduler":          func() int { return runCobra(func() *cobra.Command { return scheduler.NewSchedulerCommand() }) },
	"kube-proxy":              func() int { return runCobra(proxy.NewProxyCommand) },
	"kubelet": func() int {
		return runCobra(func() *cobra.Command { return kubelet.NewKubeletCommand(context.Background()) })
	},
	"kubectl": func() int {
		logs.GlogSetter(kubectlcmd.GetLogVerbosity(os.Args)) // nolint:errcheck
		command := kubectlcmd.NewDefaultKubectlCommand()
		if err := cli.RunNoErrOutput(command); err != nil {
			kubectlutil.CheckErr(err)
		}
		return 0
	},
	"kubeadm": func() int {
		kubeadmerrors.HandleError(kubeadm.Run())
		return 0
	},
}

// lookup maps a program name to a component: exact match first, then the
// longest component name the program name starts with ("kubectl-1.37" ->
// kubectl), so versioned copies keep working.
func lookup(name string) (func() int, bool) {
	name = strings.TrimSuffix(filepath.Base(name), ".exe")
	if f, ok := components[name]; ok {
		return f, true
	}
	best := ""
	for c := range components {
		if strings.HasPrefix(name, c) && len(c) > len(best) {
			best = c
		}
	}
	if best != "" {
		return components[best], true
	}
	return nil, false
}

func usage() {
	names := make([]string, 0, len(components))
	for c := range components {
		names = append(names, c)
	}
	sort.Strings(names)
	fmt.Fprintf(os.Stderr, "usage: kube COMPONENT [ARGS...]  (or run it under a component's name)\ncomponents: %s\n", strings.Join(names, " "))
}

func main() {
	if f, ok := lookup(os.Args[0]); ok {
		os.Exit(f())
	}
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	f, ok := lookup(os.Args[1])
	if !ok || strings.TrimSuffix(filepath.Base(os.Args[1]), ".exe") != os.Args[1] {
		usage()
		os.Exit(2)
	}
	// Shift so the component sees its own name as argv[0].
	os.Args = os.Args[1:]
	os.Exit(f())
}
