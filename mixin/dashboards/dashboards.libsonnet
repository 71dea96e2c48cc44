// grafanaDashboards: file name -> dashboard. The build writes each to grafana/dashboards/.
(import 'bybit.libsonnet')
