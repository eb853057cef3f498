// Package kwok holds the Stage documents the local stack's kwok runs with: the upstream
// stages that make nodes Ready and pods Running or gone, and Portico's failure stages.
package kwok

import _ "embed"

// Stages is upstream's node and pod lifecycle.
//
//go:embed stages.yaml
var Stages []byte

// Faults are the failure stages selected by the portico.dev/fault label.
//
//go:embed faults.yaml
var Faults []byte

// FaultLabel is the pod label whose value (crashloop, oomkilled, unready, imagepull) picks a
// failure stage.
const FaultLabel = "portico.dev/fault"

// FaultNowLabel on a running pod (value oomkilled) fails it in place, with no new revision:
// a leak, not a release.
const FaultNowLabel = "portico.dev/fault-now"

// NodeFaultLabel is FaultLabel on a node: notready makes it report what a kubelet that
// stopped working would, until the label is removed.
const NodeFaultLabel = FaultLabel
