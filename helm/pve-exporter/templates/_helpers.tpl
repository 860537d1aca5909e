{{/*
Names and labels.
*/}}
{{- define "pve-exporter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "pve-exporter.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "pve-exporter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "pve-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pve-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "pve-exporter.labels" -}}
helm.sh/chart: {{ include "pve-exporter.chart" . }}
{{ include "pve-exporter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Labels of the scrape objects: the common labels, the release label the Prometheus operator
selects on, and any extra ones.
*/}}
{{- define "pve-exporter.monitoringLabels" -}}
{{ include "pve-exporter.labels" . }}
{{- with .Values.monitoring.release }}
release: {{ . | quote }}
{{- end }}
{{- with .Values.monitoring.labels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "pve-exporter.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/*
Where pve.yml and the token files live in the container.
*/}}
{{- define "pve-exporter.configDir" -}}/etc/pve-exporter{{- end }}

{{/*
The Secret holding a module's token_value. Called with (list $root $moduleName $module).
*/}}
{{- define "pve-exporter.secretName" -}}
{{- $root := index . 0 }}
{{- $name := index . 1 }}
{{- $credentials := (index . 2).credentials }}
{{- if $credentials.existingSecret }}
{{- $credentials.existingSecret }}
{{- else }}
{{- printf "%s-%s" (include "pve-exporter.fullname" $root) $name | trunc 253 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/*
The target of a cluster's cluster-scope Probe: clusterTarget, or else the first node.
*/}}
{{- define "pve-exporter.clusterTarget" -}}
{{- .clusterTarget | default (first .nodes).target }}
{{- end }}

{{/*
Checks what the schema cannot express; fails the render with a message naming the value.
*/}}
{{- define "pve-exporter.validate" -}}
{{- $modules := .Values.modules }}
{{- $seenClusters := dict }}
{{- $moduleUse := dict }}
{{- range $index, $cluster := .Values.clusters }}
{{- if hasKey $seenClusters $cluster.name }}
{{- fail (printf "clusters[%d]: the name %q is used twice; cluster names must be unique" $index $cluster.name) }}
{{- end }}
{{- $_ := set $seenClusters $cluster.name true }}
{{- if not (hasKey $modules $cluster.module) }}
{{- fail (printf "clusters[%d] (%s): module %q is not defined in modules" $index $cluster.name $cluster.module) }}
{{- end }}
{{- if hasKey $moduleUse $cluster.module }}
{{- fail (printf "clusters[%d] (%s): module %q already serves cluster %q; give each cluster its own module (failover_targets are one cluster's nodes)" $index $cluster.name $cluster.module (get $moduleUse $cluster.module)) }}
{{- end }}
{{- $_ := set $moduleUse $cluster.module $cluster.name }}
{{- $seenNodes := dict }}
{{- range $cluster.nodes }}
{{- if hasKey $seenNodes .target }}
{{- fail (printf "clusters[%d] (%s): node target %q is listed twice" $index $cluster.name .target) }}
{{- end }}
{{- $_ := set $seenNodes .target true }}
{{- end }}
{{- end }}
{{- range $name, $module := $modules }}
{{- range $key := list "token_value" "token_value_file" "password" "password_file" }}
{{- if hasKey $module $key }}
{{- fail (printf "modules.%s.%s: secrets never go into values or the ConfigMap; give the module credentials.existingSecret or credentials.externalSecret" $name $key) }}
{{- end }}
{{- end }}
{{- if not (or (hasKey $module "allowed_targets") (hasKey $moduleUse $name)) }}
{{- fail (printf "modules.%s: no entry of clusters uses this module, so its allowed_targets cannot be derived; set modules.%s.allowed_targets (\"*\" allows every target)" $name $name) }}
{{- end }}
{{- if not (and $module.user $module.token_name) }}
{{- fail (printf "modules.%s: set user and token_name in values; the exporter reads them from pve.yml, not from the Secret" $name) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The pve.yml modules as a YAML mapping: each module's settings from values without
`credentials`, plus token_value_file, plus allowed_targets and failover_targets derived from
`clusters` unless given.
*/}}
{{- define "pve-exporter.pveConfig" -}}
{{- $root := . }}
{{- $config := dict }}
{{- range $name, $module := .Values.modules }}
{{- $settings := omit $module "credentials" }}
{{- $_ := set $settings "token_value_file" (printf "%s/secrets/%s/token_value" (include "pve-exporter.configDir" $root) $name) }}
{{- range $cluster := $root.Values.clusters }}
{{- if eq $cluster.module $name }}
{{- $clusterTarget := include "pve-exporter.clusterTarget" $cluster }}
{{- $nodeTargets := list }}
{{- range $cluster.nodes }}
{{- $nodeTargets = append $nodeTargets .target }}
{{- end }}
{{- if not (hasKey $module "allowed_targets") }}
{{- $_ := set $settings "allowed_targets" (prepend $nodeTargets $clusterTarget | uniq) }}
{{- end }}
{{- $failover := without $nodeTargets $clusterTarget }}
{{- if and (not (hasKey $module "failover_targets")) $failover }}
{{- $_ := set $settings "failover_targets" $failover }}
{{- end }}
{{- end }}
{{- end }}
{{- $_ := set $config $name $settings }}
{{- end }}
{{- toYaml $config }}
{{- end }}
