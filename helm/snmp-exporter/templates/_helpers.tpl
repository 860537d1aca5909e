{{/*
Names and labels.
*/}}
{{- define "snmp-exporter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "snmp-exporter.fullname" -}}
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

{{- define "snmp-exporter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "snmp-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "snmp-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "snmp-exporter.labels" -}}
helm.sh/chart: {{ include "snmp-exporter.chart" . }}
{{ include "snmp-exporter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Labels of the scrape objects: the common labels, the release label the Prometheus operator
selects on, and any extra ones.
*/}}
{{- define "snmp-exporter.monitoringLabels" -}}
{{ include "snmp-exporter.labels" . }}
{{- with .Values.monitoring.release }}
release: {{ . | quote }}
{{- end }}
{{- with .Values.monitoring.labels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "snmp-exporter.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/*
Where the config files live in the container.
*/}}
{{- define "snmp-exporter.configDir" -}}/etc/snmp-exporter{{- end }}

{{/*
The modules the exporter embeds; the chart's copy is files/embedded-modules.yml.
*/}}
{{- define "snmp-exporter.embeddedModuleNames" -}}
{{- list "if_mib" "system" | toJson }}
{{- end }}

{{/*
The auth the exporter uses when a request names none.
*/}}
{{- define "snmp-exporter.defaultAuth" -}}public_v2{{- end }}

{{/*
Where the auths file comes from: existingSecret, externalSecret or none.
*/}}
{{- define "snmp-exporter.authSource" -}}
{{- if .Values.auths.externalSecret }}externalSecret
{{- else if .Values.auths.existingSecret }}existingSecret
{{- else }}none
{{- end }}
{{- end }}

{{/*
The Secret holding the auths file.
*/}}
{{- define "snmp-exporter.secretName" -}}
{{- if eq (include "snmp-exporter.authSource" .) "existingSecret" }}
{{- .Values.auths.existingSecret }}
{{- else }}
{{- printf "%s-auths" (include "snmp-exporter.fullname" .) | trunc 253 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/*
The config files, as a JSON list of {key, path, from} where `from` is configMap or secret.
Empty when the exporter runs on its embedded default (no auths source, no modules of its own).
*/}}
{{- define "snmp-exporter.configFiles" -}}
{{- $dir := include "snmp-exporter.configDir" . }}
{{- $files := list }}
{{- $source := include "snmp-exporter.authSource" . }}
{{- if or (ne $source "none") .Values.config.modules (not .Values.config.embeddedModules) }}
{{- if .Values.config.embeddedModules }}
{{- $files = append $files (dict "key" "embedded-modules.yml" "path" (printf "%s/embedded-modules.yml" $dir) "from" "configMap") }}
{{- end }}
{{- if .Values.config.modules }}
{{- $files = append $files (dict "key" "modules.yml" "path" (printf "%s/modules.yml" $dir) "from" "configMap") }}
{{- end }}
{{- if ne $source "none" }}
{{- $files = append $files (dict "key" .Values.auths.secretKey "path" (printf "%s/auths.yml" $dir) "from" "secret") }}
{{- end }}
{{- end }}
{{- toJson $files }}
{{- end }}

{{/*
A probe's targets as a JSON list of {target, host, device}: `target` as the exporter is asked
for it, `host` without udp:// or tcp:// (the form allowed_targets takes), `device` the name.
Called with one entry of .Values.probes.
*/}}
{{- define "snmp-exporter.probeTargets" -}}
{{- $out := list }}
{{- range .targets }}
{{- $target := "" }}
{{- $device := "" }}
{{- if kindIs "string" . }}
{{- $target = . }}
{{- $device = . }}
{{- else }}
{{- $target = .target }}
{{- $device = .name }}
{{- end }}
{{- $host := regexReplaceAll "^(udp|tcp)://" $target "" }}
{{- $out = append $out (dict "target" $target "host" $host "device" $device) }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/*
The allowed_targets derived from `probes`, as a JSON object: {"modules": {name: [hosts]},
"auths": {name: [hosts]}}. A probe without auth counts for the exporter's default auth.
*/}}
{{- define "snmp-exporter.derivedTargets" -}}
{{- $modules := dict }}
{{- $auths := dict }}
{{- range $probe := .Values.probes }}
{{- $hosts := list }}
{{- range include "snmp-exporter.probeTargets" $probe | fromJsonArray }}
{{- $hosts = append $hosts .host }}
{{- end }}
{{- range $probe.module }}
{{- $_ := set $modules . (concat (get $modules . | default list) $hosts | uniq) }}
{{- end }}
{{- $auth := $probe.auth | default (include "snmp-exporter.defaultAuth" $) }}
{{- $_ := set $auths $auth (concat (get $auths $auth | default list) $hosts | uniq) }}
{{- end }}
{{- toJson (dict "modules" $modules "auths" $auths) }}
{{- end }}

{{/*
Checks what the schema cannot express; fails the render with a message naming the value.
*/}}
{{- define "snmp-exporter.validate" -}}
{{- $embedded := include "snmp-exporter.embeddedModuleNames" . | fromJsonArray }}
{{- $modules := .Values.config.modules | default dict }}
{{- $source := include "snmp-exporter.authSource" . }}
{{- $derived := include "snmp-exporter.derivedTargets" . | fromJson }}
{{- if and .Values.auths.externalSecret .Values.auths.existingSecret }}
{{- fail "auths: give existingSecret or externalSecret, not both (set existingSecret: \"\" when using externalSecret)" }}
{{- end }}
{{- if and (not .Values.config.embeddedModules) (not $modules) }}
{{- fail "config: embeddedModules is false and config.modules is empty: the exporter would have no module" }}
{{- end }}
{{- if and (eq $source "none") (or $modules (not .Values.config.embeddedModules)) }}
{{- fail "auths: config.modules needs an auths file (auths.existingSecret or auths.externalSecret): the exporter's embedded public_v1/public_v2 auths are only there when it is given no config file" }}
{{- end }}
{{- $available := list }}
{{- if .Values.config.embeddedModules }}
{{- $available = concat $available $embedded }}
{{- end }}
{{- range $name, $module := $modules }}
{{- if and $.Values.config.embeddedModules (has $name $embedded) }}
{{- fail (printf "config.modules.%s: %s is an embedded module; set config.embeddedModules: false to define your own" $name $name) }}
{{- end }}
{{- range $key := list "auth" "version" "community" "password" "priv_password" "community_file" "password_file" "priv_password_file" }}
{{- if hasKey $module $key }}
{{- fail (printf "config.modules.%s.%s: credentials never go into the modules or the ConfigMap; put them in the auths file (auths.existingSecret or auths.externalSecret)" $name $key) }}
{{- end }}
{{- end }}
{{- $available = append $available $name }}
{{- end }}
{{- $knownAuths := list }}
{{- if eq $source "none" }}
{{- $knownAuths = list "public_v1" "public_v2" }}
{{- else if eq $source "externalSecret" }}
{{- with .Values.auths.externalSecret }}
{{- if and .auths .remoteRef }}
{{- fail "auths.externalSecret: give auths (the chart templates the file) or remoteRef (the whole file is one remote value), not both" }}
{{- end }}
{{- if not (or .auths .remoteRef) }}
{{- fail "auths.externalSecret: give auths or remoteRef" }}
{{- end }}
{{- range $name, $auth := .auths }}
{{- $knownAuths = append $knownAuths $name }}
{{- range $key := list "community" "password" "priv_password" }}
{{- if and (hasKey $auth $key) (not (kindIs "map" (get $auth $key))) }}
{{- fail (printf "auths.externalSecret.auths.%s.%s: a secret is never written into values; give a remote reference {key, property}" $name $key) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- $seenProbes := dict }}
{{- range $index, $probe := .Values.probes }}
{{- if hasKey $seenProbes $probe.name }}
{{- fail (printf "probes[%d]: the name %q is used twice; probe names must be unique" $index $probe.name) }}
{{- end }}
{{- $_ := set $seenProbes $probe.name true }}
{{- range $probe.module }}
{{- if not (has . $available) }}
{{- fail (printf "probes[%d] (%s): module %q is not defined (available: %s)" $index $probe.name . (join ", " $available)) }}
{{- end }}
{{- end }}
{{- if and $knownAuths (not (has ($probe.auth | default (include "snmp-exporter.defaultAuth" $)) $knownAuths)) }}
{{- fail (printf "probes[%d] (%s): auth %q is not defined (available: %s)" $index $probe.name ($probe.auth | default (include "snmp-exporter.defaultAuth" $)) (join ", " $knownAuths)) }}
{{- end }}
{{- $seenTargets := dict }}
{{- $seenDevices := dict }}
{{- range include "snmp-exporter.probeTargets" $probe | fromJsonArray }}
{{- if hasKey $seenTargets .target }}
{{- fail (printf "probes[%d] (%s): target %q is listed twice" $index $probe.name .target) }}
{{- end }}
{{- $_ := set $seenTargets .target true }}
{{- if hasKey $seenDevices .device }}
{{- fail (printf "probes[%d] (%s): device name %q is used twice" $index $probe.name .device) }}
{{- end }}
{{- $_ := set $seenDevices .device true }}
{{- end }}
{{- end }}
{{- if eq $source "externalSecret" }}
{{- range $name, $auth := .Values.auths.externalSecret.auths }}
{{- if not (or (hasKey $auth "allowed_targets") (hasKey $derived.auths $name)) }}
{{- fail (printf "auths.externalSecret.auths.%s: no entry of probes uses this auth, so its allowed_targets cannot be derived; set allowed_targets ([\"*\"] allows every target)" $name) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The modules of config.modules as a split-format file (`modules:`), with allowed_targets derived
from `probes` for every module that gives none and that a probe uses. Modules no probe uses keep
what they give (nothing: any target); only the auths, which carry the credentials, must always
have a list.
*/}}
{{- define "snmp-exporter.modulesConfig" -}}
{{- $derived := include "snmp-exporter.derivedTargets" . | fromJson }}
{{- $modules := dict }}
{{- range $name, $module := .Values.config.modules }}
{{- $settings := deepCopy $module }}
{{- if and (not (hasKey $module "allowed_targets")) (hasKey $derived.modules $name) }}
{{- $_ := set $settings "allowed_targets" (get $derived.modules $name) }}
{{- end }}
{{- $_ := set $modules $name $settings }}
{{- end }}
{{- toYaml (dict "modules" $modules) }}
{{- end }}

{{/*
The auths file as an External Secrets Operator template (engine v2): the non-secret keys
written out, each secret key an ESO expression reading the ExternalSecret's data key
"<auth>.<key>". Helm renders `{{` and `}}` literally here through printf.
*/}}
{{- define "snmp-exporter.authsTemplate" -}}
{{- $derived := include "snmp-exporter.derivedTargets" . | fromJson }}
# Rendered by the External Secrets Operator from the snmp-exporter chart's template.
auths:
{{- range $name, $auth := .Values.auths.externalSecret.auths }}
  {{ $name | toJson }}:
{{- range $key := list "version" "community" "security_level" "username" "password" "auth_protocol" "priv_protocol" "priv_password" "context_name" }}
{{- if hasKey $auth $key }}
{{- $value := get $auth $key }}
{{- if kindIs "map" $value }}
    {{ $key }}: {{ printf "{{ index . %s | toJson }}" (printf "%s.%s" $name $key | toJson) }}
{{- else if eq $key "version" }}
    {{ $key }}: {{ int $value }}
{{- else }}
    {{ $key }}: {{ $value | toJson }}
{{- end }}
{{- end }}
{{- end }}
{{- $targets := $auth.allowed_targets | default (get $derived.auths $name) }}
    allowed_targets:
{{- range $targets }}
      - {{ . | toJson }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The ExternalSecret data entries of the templated auths: every value given as a remote reference.
*/}}
{{- define "snmp-exporter.authsRemoteRefs" -}}
{{- $refs := list }}
{{- range $name, $auth := .Values.auths.externalSecret.auths }}
{{- range $key := list "community" "username" "password" "priv_password" }}
{{- $value := get $auth $key }}
{{- if kindIs "map" $value }}
{{- $refs = append $refs (dict "secretKey" (printf "%s.%s" $name $key) "remoteRef" $value) }}
{{- end }}
{{- end }}
{{- end }}
{{- toJson $refs }}
{{- end }}
