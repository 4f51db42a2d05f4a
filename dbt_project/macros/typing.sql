{#- Safe extraction of typed payload fields: a field that breaks its rule yields NULL instead of
    a cast error (the row's invalid_reason says why). Patterns match payload_contract.sql. -#}

{% macro json_bigint(payload, field) -%}
    case when jsonb_typeof({{ payload }} -> '{{ field }}') = 'number'
              and ({{ payload }} -> '{{ field }}')::numeric
                  = trunc(({{ payload }} -> '{{ field }}')::numeric)
              and abs(({{ payload }} -> '{{ field }}')::numeric) < 1e18
         then ({{ payload }} -> '{{ field }}')::numeric::bigint end
{%- endmacro %}

{% macro json_numeric(payload, field) -%}
    case when jsonb_typeof({{ payload }} -> '{{ field }}') = 'number'
         then ({{ payload }} -> '{{ field }}')::numeric end
{%- endmacro %}

{% macro json_text(payload, field) -%}
    case when jsonb_typeof({{ payload }} -> '{{ field }}') = 'string'
         then {{ payload }} ->> '{{ field }}' end
{%- endmacro %}

{% macro json_bool(payload, field) -%}
    case when jsonb_typeof({{ payload }} -> '{{ field }}') = 'boolean'
         then ({{ payload }} -> '{{ field }}')::boolean end
{%- endmacro %}

{#- Envelope columns every typed bronze view starts with. -#}
{% macro envelope_columns(relation_alias=none) -%}
    {%- set p = (relation_alias ~ '.') if relation_alias else '' -%}
    {{ p }}batch_id,
    {{ p }}line_no,
    {{ p }}event_id,
    {{ p }}event_type,
    {{ p }}occurred_at,
    ({{ p }}occurred_at at time zone 'UTC')::date as event_date,
    {{ p }}brand_id,
    {{ p }}region,
    {{ p }}player_id
{%- endmacro %}

{#- The valid first copies of events of `event_types` (the rows of int_events whose payload
    keeps its contract), of the batches the calling model has not seen yet, with the payload
    `fields` typed.

    Silver reads int_events rather than the bronze typed views: those re-read raw.events and
    would have to be joined back to int_events on (event_id, batch_id, line_no) to keep only
    first copies, a join PostgreSQL estimates at one row. Each field's type comes from the
    payload contract (payload_contract.sql), so it is stated once: a field the contract checks
    for every one of `event_types` is typed in one jsonb_to_record call per event; a field it
    checks for some of them only is typed for those, NULL for the others (whatever they carry).
    Integer kinds are read as numeric and cast, since the contract accepts an integral value
    written as 12.0. -#}
{% macro valid_first_copies(event_types, fields) -%}
    {%- set contract = payload_contract() -%}
    {%- set sql_types = {'id': 'text', 'text': 'text', 'currency': 'text', 'money': 'numeric',
                         'count': 'numeric', 'int': 'numeric', 'number': 'numeric',
                         'bool': 'boolean'} -%}
    {%- set casts = {'money': '::bigint', 'count': '::bigint', 'int': '::bigint'} -%}
    {%- set declared = [] -%}
    {%- set selected = [] -%}
    {%- for field in fields -%}
        {%- set ns = namespace(kind=none, checked=[]) -%}
        {%- for event_type in event_types -%}
            {%- for rule_field, kind in contract[event_type] if rule_field.rstrip('?') == field -%}
                {%- if ns.kind is not none and ns.kind != kind -%}
                    {{ exceptions.raise_compiler_error(
                        "payload field " ~ field ~ " has two kinds in the contract") }}
                {%- endif -%}
                {%- set ns.kind = kind -%}
                {%- do ns.checked.append(event_type) -%}
            {%- endfor -%}
        {%- endfor -%}
        {%- if ns.kind is none -%}
            {{ exceptions.raise_compiler_error("payload field " ~ field
                ~ " is not in the contract of " ~ event_types | join(', ')) }}
        {%- endif -%}
        {%- set sql_type = sql_types[ns.kind] -%}
        {%- set cast = casts.get(ns.kind, '') -%}
        {%- if ns.checked | length == event_types | length -%}
            {%- do declared.append(field ~ ' ' ~ sql_type) -%}
            {%- do selected.append('payload.' ~ field ~ cast ~ ' as ' ~ field) -%}
        {%- else -%}
            {%- set value = ("(payload." ~ field ~ " #>> '{}')") if sql_type == 'text'
                else ('(payload.' ~ field ~ ')::' ~ sql_type ~ cast) -%}
            {%- do declared.append(field ~ ' jsonb') -%}
            {%- do selected.append("case when events.event_type in ('"
                ~ ns.checked | join("', '") ~ "') then " ~ value ~ ' end as ' ~ field) -%}
        {%- endif -%}
    {%- endfor -%}
    select
        events.event_id,
        events.event_type,
        events.occurred_at,
        events.event_date,
        events.brand_id,
        events.region,
        events.player_id,
        events.batch_id,
        events.line_no
        {%- for column in selected %},
        {{ column }}
        {%- endfor %}
    from {{ ref('int_events') }} as events
    {%- if declared %}
    cross join lateral jsonb_to_record(events.payload) as payload ({{ declared | join(', ') }})
    {%- endif %}
    where events.event_type in ('{{ event_types | join("', '") }}')
        and events.invalid_reason is null
        and events.batch_id <= {{ batch_horizon() }}
        {% if is_incremental() %}
        and events.batch_id > (select coalesce(max(batch_id), 0) from {{ this }})
        {% endif %}
{%- endmacro %}
