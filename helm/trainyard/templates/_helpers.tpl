{{/* Names and labels. */}}
{{- define "trainyard.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "trainyard.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component: include "trainyard.selector" (list $ "gateway") */}}
{{- define "trainyard.selector" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ $root.Chart.Name }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "trainyard.secretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-secrets" (include "trainyard.fullname" .)) -}}
{{- end -}}

{{- define "trainyard.runNamespace" -}}
{{- .Values.trainer.jobs.namespace | default .Release.Namespace -}}
{{- end -}}

{{/* Image of a service: include "trainyard.image" (list $ "gateway") */}}
{{- define "trainyard.image" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- $tag := $root.Values.image.tag | default $root.Chart.AppVersion -}}
{{- if eq $name "trainer" -}}{{- $tag = printf "%s-%s" $tag $root.Values.image.trainerVariant -}}{{- end -}}
{{- $repo := printf "%s/%s" $root.Values.image.repositoryPrefix $name -}}
{{- if $root.Values.image.registry -}}{{- $repo = printf "%s/%s" $root.Values.image.registry $repo -}}{{- end -}}
{{- printf "%s:%s" $repo $tag -}}
{{- end -}}

{{/* Pod Security Standard "restricted", for every pod of the chart. */}}
{{- define "trainyard.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ . | default 10001 }}
runAsGroup: {{ . | default 10001 }}
fsGroup: {{ . | default 10001 }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "trainyard.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{- define "trainyard.postgresHost" -}}
{{- printf "%s-postgres" (include "trainyard.fullname" .) -}}
{{- end -}}

{{/* A service's host as training pods see it: qualified when they run in another namespace. */}}
{{- define "trainyard.host" -}}
{{- $root := index . 0 -}}
{{- $host := printf "%s-%s" (include "trainyard.fullname" $root) (index . 1) -}}
{{- if ne (include "trainyard.runNamespace" $root) $root.Release.Namespace -}}
{{- $host = printf "%s.%s.svc" $host $root.Release.Namespace -}}
{{- end -}}
{{- $host -}}
{{- end -}}

{{- define "trainyard.s3Endpoint" -}}
{{- if .Values.objectStore.bundled -}}
{{- printf "%s:9000" (include "trainyard.host" (list . "minio")) -}}
{{- else -}}
{{- required "objectStore.external.endpoint is required when objectStore.bundled is false" .Values.objectStore.external.endpoint -}}
{{- end -}}
{{- end -}}

{{/* Environment of a service container: include "trainyard.env" (list $ "dataset") */}}
{{- define "trainyard.env" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
- name: TRAINYARD_INTERNAL_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "trainyard.secretName" $root }}
      key: {{ $root.Values.secrets.keys.internalToken }}
- name: TRAINYARD_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "trainyard.secretName" $root }}
      key: {{ $root.Values.secrets.keys.databaseUrl }}
{{- if has $name (list "dataset" "trainer" "inference") }}
- name: TRAINYARD_S3_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "trainyard.secretName" $root }}
      key: {{ $root.Values.secrets.keys.s3AccessKey }}
- name: TRAINYARD_S3_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "trainyard.secretName" $root }}
      key: {{ $root.Values.secrets.keys.s3SecretKey }}
{{- end }}
{{- end -}}

{{- define "trainyard.probes" -}}
startupProbe:
  httpGet: {path: /healthz, port: http}
  periodSeconds: 2
  failureThreshold: 60
livenessProbe:
  httpGet: {path: /healthz, port: http}
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
readinessProbe:
  httpGet: {path: /readyz, port: http}
  periodSeconds: 5
  timeoutSeconds: 6
  failureThreshold: 3
{{- end -}}

{{/* Egress rule to Postgres: the bundled pod, or the external CIDRs. */}}
{{- define "trainyard.egressPostgres" -}}
{{- if .Values.postgresql.bundled -}}
- to:
    - podSelector:
        matchLabels:
          {{- include "trainyard.selector" (list . "postgres") | nindent 10 }}
  ports:
    - {protocol: TCP, port: 5432}
{{- else -}}
- to:
    {{- range $cidr := required "postgresql.external.cidrs: list the database's CIDRs (NetworkPolicy egress)" .Values.postgresql.external.cidrs }}
    - ipBlock: {cidr: {{ $cidr | quote }}}
    {{- end }}
  ports:
    - {protocol: TCP, port: {{ .Values.postgresql.external.port }}}
{{- end -}}
{{- end -}}

{{/* Egress rule to the object store: the bundled MinIO pod, or the external CIDRs. */}}
{{- define "trainyard.egressObjectStore" -}}
{{- if .Values.objectStore.bundled -}}
- to:
    - podSelector:
        matchLabels:
          {{- include "trainyard.selector" (list . "minio") | nindent 10 }}
  ports:
    - {protocol: TCP, port: 9000}
{{- else -}}
- to:
    {{- range $cidr := required "objectStore.external.cidrs: list the object store's CIDRs (NetworkPolicy egress)" .Values.objectStore.external.cidrs }}
    - ipBlock: {cidr: {{ $cidr | quote }}}
    {{- end }}
  ports:
    - {protocol: TCP, port: {{ .Values.objectStore.external.port }}}
{{- end -}}
{{- end -}}

{{/* Training pods, whichever executor built them (run Jobs, ImageNet train and prepare Jobs). */}}
{{- define "trainyard.trainingSelector" -}}
matchLabels:
  app.kubernetes.io/name: {{ .Chart.Name }}
matchExpressions:
  - key: app.kubernetes.io/component
    operator: In
    values: ["training", "imagenet-train", "imagenet-prepare"]
{{- end -}}

{{/* The migrations step of one service: include "trainyard.migrateContainer" (list $ "dataset") */}}
{{- define "trainyard.migrateContainer" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
- name: migrate
  image: {{ include "trainyard.image" (list $root $name) }}
  imagePullPolicy: {{ $root.Values.image.pullPolicy }}
  args: ["python", "-m", "{{ $name }}.migrate"]
  env:
    - name: TRAINYARD_ENVIRONMENT
      value: production
    - name: TRAINYARD_DATA_DIR
      value: /tmp/trainyard
    - name: TRAINYARD_STORE_BACKEND
      value: local
    - name: TRAINYARD_GATEWAY_AUTH_MODE
      value: multi_user
    {{- include "trainyard.env" (list $root "migrations") | nindent 4 }}
  resources:
    {{- toYaml $root.Values.migrations.resources | nindent 4 }}
  securityContext:
    {{- include "trainyard.containerSecurityContext" $root | nindent 4 }}
  volumeMounts:
    - name: tmp
      mountPath: /tmp
{{- end -}}
