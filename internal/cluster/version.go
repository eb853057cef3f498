package cluster

import "encoding/json"

func parseVersion(raw []byte) string {
	var v struct {
		GitVersion string `json:"gitVersion"`
	}
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	return v.GitVersion
}
