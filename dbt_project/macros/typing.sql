{#- Typing of payload fields, from the payload contract (payload_contract.sql) only: the kind
    of each field, and the SQL type of each kind (payload_kind_types).

    Bronze has no typed views (docs/decisions.md, "Bronze is the envelope"): silver types what
    it reads from the valid first copies of int_events. These macros call no macro of this
    file: sqlfluff's templater cannot return a value from a macro to another of the same file. -#}

{#- The valid first copies of events of `event_types` (the rows of int_events whose payload
    keeps its contract), of the batches the calling model has not seen yet, with the payload
    `fields` typed.

    It reads int_events, not a typed view over raw.events: such a view would re-read every
    landed copy and need a join back to int_events on (event_id, batch_id, line_no) to keep
    only first copies, a join PostgreSQL estimates at one row; int_events is indexed on
    (event_type, batch_id) for exactly this read. A field the contract checks for every one of
    `event_types` is typed in one jsonb_to_record call per event; a field it checks for some
    of them only is typed for those, NULL for the others (whatever they carry). Integer kinds
    are read as numeric and cast, since the contract accepts an integral value written as 12.0
    (a bigint read of "12.0" would fail the whole statement). An event type the contract does
    not list, a field it checks on none of `event_types`, or a field with two kinds is a
    compile error: a typo must not turn into a column of NULLs. -#}
{% macro valid_first_copies(event_types, fields) -%}
    {%- set contract = payload_contract() -%}
    {%- set kind_types = payload_kind_types() -%}
    {%- for event_type in event_types if event_type not in contract -%}
        {{ exceptions.raise_compiler_error("event type " ~ event_type
            ~ " is not in the payload contract") }}
    {%- endfor -%}
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
        {%- set sql_type = kind_types[ns.kind] -%}
        {%- set cast = '::bigint' if sql_type == 'bigint' else '' -%}
        {%- set sql_type = 'numeric' if sql_type == 'bigint' else sql_type -%}
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

{#- The text of one payload field that the contract types as text (kinds id, text, currency),
    NULL when the value is not a string. For models that read a single such field of valid
    events next to int_events' own columns (int_sessions: session_id;
    int_player_activity_daily: a credit's reason) rather than through valid_first_copies. A
    field that no event type's contract types as text is a compile error. -#}
{% macro json_text(payload, field) -%}
    {%- set kind_types = payload_kind_types() -%}
    {%- set ns = namespace(known=false) -%}
    {%- for rules in payload_contract().values() -%}
        {%- for rule_field, kind in rules
                if rule_field.rstrip('?') == field and kind_types[kind] == 'text' -%}
            {%- set ns.known = true -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- if not ns.known -%}
        {{ exceptions.raise_compiler_error("payload field " ~ field
            ~ " is not text in the payload contract") }}
    {%- endif -%}
    case when jsonb_typeof({{ payload }} -> '{{ field }}') = 'string'
         then {{ payload }} ->> '{{ field }}' end
{%- endmacro %}
