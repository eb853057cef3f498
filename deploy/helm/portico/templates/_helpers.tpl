{{- define "portico.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "portico.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "portico.selectorLabels" -}}
app.kubernetes.io/name: {{ include "portico.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "portico.labels" -}}
{{ include "portico.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "portico.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "portico.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* portico.yaml: the values' config with what the chart owns: the clusters. */}}
{{- define "portico.config" -}}
{{- $cfg := deepCopy .Values.config -}}
{{- if hasKey $cfg "clusters" -}}
{{- fail "config.clusters is written by the chart: list the clusters in the clusters value instead" -}}
{{- end -}}
{{- $clusters := list -}}
{{- range .Values.clusters -}}
{{- if eq (not .inCluster) (not .kubeconfigSecret) -}}
{{- fail (printf "clusters: %s needs exactly one of inCluster: true and kubeconfigSecret (the Secret holding its kubeconfig)" .name) -}}
{{- end -}}
{{- $c := dict "name" .name "environment" (default .name .environment) "impersonateGroups" $.Values.impersonateGroups -}}
{{- if .inCluster -}}
{{- $_ := set $c "inCluster" true -}}
{{- else -}}
{{- $_ := set $c "kubeconfig" (printf "/etc/portico/clusters/%s/kubeconfig" .name) -}}
{{- end -}}
{{- $clusters = append $clusters $c -}}
{{- end -}}
{{- $_ := set $cfg "clusters" $clusters -}}
{{- /* Several replicas: one, elected on a Lease in the release's namespace, does the background work. */ -}}
{{- if or .Values.autoscaling.enabled (gt (int .Values.replicaCount) 1) -}}
{{- $home := list -}}
{{- range .Values.clusters -}}{{- if .inCluster -}}{{- $home = append $home .name -}}{{- end -}}{{- end -}}
{{- $ha := dict "enabled" true "namespace" .Release.Namespace "leaseName" (include "portico.fullname" .) -}}
{{- if eq (len $home) 1 -}}
{{- $_ := set $ha "cluster" (first $home) -}}
{{- else -}}
{{- fail "several replicas elect a leader on a Lease in the cluster Portico runs in: list that cluster in clusters with inCluster: true" -}}
{{- end -}}
{{- $_ := set $cfg "highAvailability" (mergeOverwrite $ha (default dict $cfg.highAvailability)) -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* An environment variable from a referenced Secret, when the reference names one. */}}
{{- define "portico.secretEnv" -}}
{{- if .ref.name }}
- name: {{ .env }}
  valueFrom:
    secretKeyRef: {name: {{ .ref.name | quote }}, key: {{ .ref.key | quote }}}
{{- end }}
{{- end -}}
