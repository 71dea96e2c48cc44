{{/* The chart's name, or nameOverride. */}}
{{- define "bybit-exporter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The prefix of every object's name. 52 characters at most: a StatefulSet's pods carry the label
controller-revision-hash: <name>-<10 characters>, and a label value has at most 63.
*/}}
{{- define "bybit-exporter.fullname" -}}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- $full := .Values.fullnameOverride }}
{{- if not $full }}
{{- $full = contains $name .Release.Name | ternary .Release.Name (printf "%s-%s" .Release.Name $name) }}
{{- end }}
{{- $full | trunc 52 | trimSuffix "-" }}
{{- end }}

{{/* The labels of every object but the selector's component. */}}
{{- define "bybit-exporter.commonLabels" -}}
app.kubernetes.io/name: {{ include "bybit-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The labels that select this release's exporter pods (and not its helm test pod, whose
component is test): never changed, as a StatefulSet's selector cannot be.
*/}}
{{- define "bybit-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "bybit-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: exporter
{{- end }}

{{/* The labels of the exporter's objects. */}}
{{- define "bybit-exporter.labels" -}}
{{ include "bybit-exporter.commonLabels" . }}
app.kubernetes.io/component: exporter
{{- end }}

{{- define "bybit-exporter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "bybit-exporter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret mounted at /etc/bybit-exporter/secrets. */}}
{{- define "bybit-exporter.secretName" -}}
{{- default (printf "%s-credentials" (include "bybit-exporter.fullname" .)) .Values.existingSecret }}
{{- end }}

{{- define "bybit-exporter.image" -}}
{{- $reference := printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- if .Values.image.digest }}
{{- $reference = printf "%s@%s" $reference .Values.image.digest }}
{{- end }}
{{- $reference }}
{{- end }}

{{/* HTTP or HTTPS, as the web config serves. */}}
{{- define "bybit-exporter.scheme" -}}
{{- .Values.webConfig.tls | ternary "HTTPS" "HTTP" }}
{{- end }}

{{/*
The files the config names in the Secret's folder: what the Secret must hold. For NOTES.
*/}}
{{- define "bybit-exporter.secretFiles" -}}
{{- $files := list }}
{{- range $account := .Values.config.accounts }}
{{- range $field := list "api_key_file" "api_secret_file" "rsa_private_key_file" }}
{{- $path := index $account $field | default "" }}
{{- if hasPrefix "/etc/bybit-exporter/secrets/" $path }}
{{- $files = append $files (base $path) }}
{{- end }}
{{- end }}
{{- end }}
{{- $files | uniq | join " " }}
{{- end }}
