{#-
    The revenue metrics, written once (docs/metrics.md). Every mart that reports GGR, NGR or
    RTP calls these with its own column expressions, so a formula cannot drift between marts.
    Money arguments are minor units of one currency; the result keeps their type.
-#}

{#- GGR: what the players staked minus what they won. -#}
{% macro ggr(stake, win) -%}
    {{ stake }} - {{ win }}
{%- endmacro %}

{#- NGR: GGR minus bonus cost, jackpot contributions and payment fees. -#}
{% macro ngr(stake, win, bonus_cost, jackpot, fees) -%}
    {{ ggr(stake, win) }} - {{ bonus_cost }} - {{ jackpot }} - {{ fees }}
{%- endmacro %}

{#- RTP: win over stake, NULL when nothing was staked. -#}
{% macro rtp(win, stake) -%}
    {{ win }}::numeric / nullif({{ stake }}, 0)
{%- endmacro %}
