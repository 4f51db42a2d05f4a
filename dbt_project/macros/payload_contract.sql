{#-
    The payload contract of docs/input-contract.md, defined once.

    `payload_invalid_reason(payload, event_type)` is NULL for a valid payload, else the first
    broken rule as a sentence naming the field. silver.int_events carries it as
    `invalid_reason`; silver models read only valid events, typed by the same rules
    (valid_first_copies in typing.sql); audit lists the others.

    Rule kinds:
      id        non-empty string
      text      non-empty string
      money     integer >= 0 in minor units (an integral value below 1e18; 12.5 is refused)
      int       integer (any sign, |x| < 1e18)
      count     integer >= 0
      number    number >= 0 (fractions allowed)
      bool      true or false
      currency  a currency of the `currencies` seed (the codes the FX table can convert)
    A field name ending in "?" is optional: checked only when present and not null.
-#}

{% macro payload_contract() %}
    {{ return({
        'player.registered': [('channel?', 'text')],
        'session.started': [('session_id', 'id')],
        'session.ended': [('session_id', 'id')],
        'bet.placed': [('bet_id', 'id'), ('game_id', 'id'), ('provider_id', 'id'),
                       ('stake_minor', 'money'), ('currency', 'currency'), ('in_bonus', 'bool')],
        'bet.settled': [('bet_id', 'id'), ('game_id', 'id'), ('provider_id', 'id'),
                        ('stake_minor', 'money'), ('win_minor', 'money'),
                        ('currency', 'currency'), ('in_bonus', 'bool')],
        'wallet.debit': [('amount_minor', 'money'), ('currency', 'currency'),
                         ('reason', 'text'), ('reference_id', 'id')],
        'wallet.credit': [('amount_minor', 'money'), ('currency', 'currency'),
                          ('reason', 'text'), ('reference_id', 'id')],
        'payment.intent': [('payment_id', 'id'), ('amount_minor', 'money'),
                           ('currency', 'currency'), ('method', 'text')],
        'payment.authorized': [('payment_id', 'id'), ('amount_minor', 'money'),
                               ('currency', 'currency'), ('method', 'text')],
        'payment.captured': [('payment_id', 'id'), ('amount_minor', 'money'),
                             ('currency', 'currency'), ('method', 'text'), ('fee_minor?', 'money')],
        'payment.failed': [('payment_id', 'id'), ('method', 'text'), ('error_code', 'text')],
        'bonus.issued': [('bonus_id', 'id'), ('amount_minor', 'money'), ('currency', 'currency')],
        'bonus.consumed': [('bonus_id', 'id'), ('amount_minor', 'money'), ('currency', 'currency')],
        'jackpot.contribution': [('game_id', 'id'), ('amount_minor', 'money'),
                                 ('currency', 'currency')],
        'rg.limit.hit': [('limit_type?', 'text')],
        'rg.reality_check': [('limit_type?', 'text')],
        'credits.earn': [('amount', 'count')],
        'credits.spend': [('amount', 'count')],
        'gems.earn': [('amount', 'count')],
        'gems.spend': [('amount', 'count')],
        'gems.purchase': [('gems', 'count'), ('amount_minor', 'money'), ('currency', 'currency')],
        'dungeon.complete': [],
        'craft.complete': [],
        'pvp.battle': [],
        'pvp.ranked.battle': [],
        'raid.complete': [],
        'market.sale': [],
        'points.awarded': [('game_id', 'id'), ('task_id', 'id'), ('points', 'int'),
                           ('minutes', 'number')],
        'device.bound': [('device_id', 'id')],
        'device.unbound': [('device_id', 'id')],
        'affinity.triggered': [('device_id', 'id'), ('rule_key', 'text'), ('change', 'int'),
                               ('source', 'text')],
        'affinity.admin_adjust': [('device_id', 'id'), ('delta', 'int'),
                                  ('operator_admin_id', 'id'), ('reason', 'text')],
    }) }}
{% endmacro %}

{#- The SQL type of a valid value of each rule kind: silver types payload fields with it
    (valid_first_copies and json_text in typing.sql). -#}
{% macro payload_kind_types() %}
    {{ return({'id': 'text', 'text': 'text', 'currency': 'text', 'money': 'bigint',
               'count': 'bigint', 'int': 'bigint', 'number': 'numeric', 'bool': 'boolean'}) }}
{% endmacro %}

{% macro known_event_types() -%}
    ({% for event_type in payload_contract().keys() -%}
        '{{ event_type }}'{{ ", " if not loop.last }}
    {%- endfor %})
{%- endmacro %}

{#- One rule as a CASE arm that yields its reason when broken. -#}
{% macro _payload_rule(payload, field, kind) -%}
    {%- set optional = field.endswith('?') -%}
    {%- set name = field.rstrip('?') -%}
    {%- set value = payload ~ " -> '" ~ name ~ "'" -%}
    {%- set text = payload ~ " ->> '" ~ name ~ "'" -%}
    {%- set type = "jsonb_typeof(" ~ value ~ ")" -%}
    {%- if kind in ('id', 'text') -%}
        {%- set ok = type ~ " = 'string' and " ~ text ~ " <> ''" -%}
        {%- set wants = "a non-empty string" -%}
    {%- elif kind in ('money', 'count', 'int') -%}
        {%- set num = "(" ~ value ~ ")::numeric" -%}
        {%- set ok = type ~ " = 'number' and " ~ num ~ " = trunc(" ~ num ~ ") and abs(" ~ num ~ ") < 1e18" ~ ("" if kind == 'int' else " and " ~ num ~ " >= 0") -%}
        {%- set wants = {'money': "a non-negative integer in minor units", 'count': "a non-negative integer", 'int': "an integer"}[kind] -%}
    {%- elif kind == 'number' -%}
        {%- set ok = type ~ " = 'number' and (" ~ value ~ ")::numeric >= 0" -%}
        {%- set wants = "a number >= 0" -%}
    {%- elif kind == 'bool' -%}
        {%- set ok = type ~ " = 'boolean'" -%}
        {%- set wants = "true or false" -%}
    {%- elif kind == 'currency' -%}
        {%- set ok = type ~ " = 'string' and " ~ text ~ " in (select currency from " ~ ref('currencies') ~ ")" -%}
        {%- set wants = "a known currency code (seed currencies)" -%}
    {%- else -%}
        {{ exceptions.raise_compiler_error("unknown payload rule kind " ~ kind) }}
    {%- endif -%}
    {%- if optional -%}
        case when {{ type }} is not null and {{ type }} <> 'null' and not ({{ ok }})
            then '{{ name }} must be {{ wants }}, got ' || left(({{ value }})::text, 40) end
    {%- else -%}
        case when {{ type }} is null or {{ type }} = 'null' then 'payload.{{ name }} is missing'
             when not ({{ ok }}) then '{{ name }} must be {{ wants }}, got ' || left(({{ value }})::text, 40) end
    {%- endif -%}
{%- endmacro %}

{#- The same rules as one SQL/JSON path predicate (evaluated in C, in one call per row). -#}
{% macro _payload_path(rules) -%}
    {%- set parts = [] -%}
    {%- for field, kind in rules -%}
        {%- set name = field.rstrip('?') -%}
        {%- set f = '$."' ~ name ~ '"' -%}
        {%- if kind in ('id', 'text') -%}
            {%- set check = f ~ '.type() == "string" && ' ~ f ~ ' != ""' -%}
        {%- elif kind in ('money', 'count') -%}
            {%- set check = f ~ '.type() == "number" && ' ~ f ~ ' >= 0 && ' ~ f ~ ' == ' ~ f ~ '.floor() && ' ~ f ~ ' < 1e18' -%}
        {%- elif kind == 'int' -%}
            {%- set check = f ~ '.type() == "number" && ' ~ f ~ ' == ' ~ f ~ '.floor() && ' ~ f ~ '.abs() < 1e18' -%}
        {%- elif kind == 'number' -%}
            {%- set check = f ~ '.type() == "number" && ' ~ f ~ ' >= 0' -%}
        {%- elif kind == 'bool' -%}
            {%- set check = f ~ '.type() == "boolean"' -%}
        {%- elif kind == 'currency' -%}
            {%- set check = f ~ '.type() == "string"' -%}
        {%- endif -%}
        {%- if field.endswith('?') -%}
            {%- set check = '(!exists(' ~ f ~ ') || ' ~ f ~ '.type() == "null" || ('
                ~ check ~ '))' -%}
        {%- endif -%}
        {%- do parts.append('(' ~ check ~ ')') -%}
    {%- endfor -%}
    {{ parts | join(' && ') }}
{%- endmacro %}

{#- NULL when the payload satisfies its type's contract (and for unknown types: those are
    reported separately); else the first broken rule.

    Fast path: one jsonpath predicate per type decides validity for the (overwhelmingly
    common) valid rows; the per-field reason is built only for the rows it refuses. Both are
    generated from payload_contract(), so they agree. -#}
{% macro payload_invalid_reason(payload='payload', event_type='event_type') -%}
    {%- set contract = payload_contract() -%}
    case
    {%- for type_name, rules in contract.items() if rules %}
        {%- set currency_fields = rules | selectattr(1, 'equalto', 'currency')
            | map(attribute=0) | list %}
        when {{ event_type }} = '{{ type_name }}'
            and coalesce({{ payload }} @@ '{{ _payload_path(rules) }}', false)
            {%- for field in currency_fields %}
            and {{ payload }} ->> '{{ field }}' in (select currency from {{ ref('currencies') }})
            {%- endfor %}
            then null
        when {{ event_type }} = '{{ type_name }}' then coalesce(
            {%- for field, kind in rules %}
            {{ _payload_rule(payload, field, kind) }},
            {%- endfor %}
            'payload breaks the contract of {{ type_name }}'
        )
    {%- endfor %}
    end
{%- endmacro %}
