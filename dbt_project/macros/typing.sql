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

{#- Silver typed models keep the first landed copies of valid events (int_events) from a
    bronze typed view, for batches the model has not seen yet. -#}
{% macro valid_first_copies(bronze_relation, event_types) -%}
    select typed.*
    from {{ bronze_relation }} as typed
    inner join {{ ref('int_events') }} as first_copy
        on first_copy.event_id = typed.event_id
        and first_copy.batch_id = typed.batch_id
        and first_copy.line_no = typed.line_no
    where first_copy.invalid_reason is null
        and first_copy.event_type in ({% for t in event_types %}'{{ t }}'{{ ", " if not loop.last }}{% endfor %})
        and typed.batch_id <= {{ batch_horizon() }}
        {% if is_incremental() %}
        and typed.batch_id > (select coalesce(max(batch_id), 0) from {{ this }})
        and first_copy.batch_id > (select coalesce(max(batch_id), 0) from {{ this }})
        {% endif %}
{%- endmacro %}
