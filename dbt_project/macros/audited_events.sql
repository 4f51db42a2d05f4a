{#- The few events the audit views list (invalid payloads, unknown types, events later than the
    lookback), indexed apart: the audit views and their tests then read these rows instead of
    scanning every event on every run. The predicates are those of models/audit/dq_*.sql. -#}
{% macro late_event_condition(relation_alias=none) -%}
    {%- set p = (relation_alias ~ '.') if relation_alias else '' -%}
    {{ p }}lateness_seconds > {{ var('lookback_days') }} * 86400
{%- endmacro %}

{% macro index_audited_events() %}
    create index if not exists {{ this.identifier }}_audited on {{ this }} (event_type)
    where invalid_reason is not null or not is_known_type or {{ late_event_condition() }}
{% endmacro %}
