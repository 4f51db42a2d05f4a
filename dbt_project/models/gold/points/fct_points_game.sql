-- Grain: one row per (brand_id, game_id): all of a brand's awards in a game (docs/points.md).
--   players: distinct players with at least one award in the game.
--   avg_minutes: mean of `minutes` over the game's awards whose minutes is not 0; NULL when
--     there are none.
--
-- Incremental: a run recomputes every (brand, game) that received an award since the last
-- run (whatever its lateness), over all of its awards, and only those.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['brand_id', 'game_id'],
        on_schema_change='fail',
        indexes=[
            {'columns': ['brand_id', 'game_id'], 'unique': true},
        ],
        post_hook="{{ record_batch_watermark() }}",
    )
}}

{% set watermark = batch_watermark() %}

with

-- not materialized: each use reads silver through its own index (batch_id for what is new,
-- the key for the touched rows) instead of a full copy of the table
awards as not materialized (

    select * from {{ ref('int_points_awards') }}

),

{% if is_incremental() %}
touched_games as (

    select distinct brand_id, game_id
    from awards
    where batch_id > {{ watermark }}

),
{% endif %}

scoped as (

    select awards.*
    from awards
    {% if is_incremental() %}
    inner join touched_games using (brand_id, game_id)
    {% endif %}

),

per_player as (

    -- two steps instead of count(distinct player_id): hash aggregates, no sort
    select
        brand_id,
        game_id,
        player_id,
        count(*) as awards,
        sum(points) as total_points,
        sum(minutes) filter (where minutes <> 0) as timed_minutes,
        count(*) filter (where minutes <> 0) as timed_awards

    from scoped
    group by brand_id, game_id, player_id

),

final as (

    select
        brand_id,
        game_id,
        sum(awards)::bigint as awards,
        count(*) as players,
        sum(total_points)::bigint as total_points,
        -- the mean over the awards (not over the players' means); trim_scale: the exact value
        -- without trailing zeros (12, not 12.0000000000000000)
        trim_scale(sum(timed_minutes) / nullif(sum(timed_awards), 0)) as avg_minutes

    from per_player
    group by brand_id, game_id

)

select * from final
