{#- Conversion to EUR (docs/metrics.md): each amount at the rate of its event's UTC date (the latest
    FX rate dated on or before that day, see int_fx_rates_daily), summed, and rounded to an
    integer only at the end. `eur_minor_per_minor` already carries the minor-unit scaling. -#}

{% macro to_eur_minor_unrounded(amount_minor, eur_minor_per_minor) -%}
    ({{ amount_minor }})::numeric * {{ eur_minor_per_minor }}
{%- endmacro %}

{% macro round_eur_minor(eur_minor_numeric) -%}
    round({{ eur_minor_numeric }})::bigint
{%- endmacro %}
