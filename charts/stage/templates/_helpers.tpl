{{- define "stage.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "stage.selectorLabels" -}}
app.kubernetes.io/name: stage
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "stage.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | trunc 63 }}
{{ include "stage.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: model-stage
app.kubernetes.io/part-of: lima-kit
{{- end }}

{{- define "stage.serviceAccountName" -}}
{{- default (include "stage.fullname" .) .Values.serviceAccount.name }}
{{- end }}
