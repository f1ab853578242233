-- Store what the site shows, flag what looks wrong: a negative attack or price, a rarity below
-- zero or four slots are implausible, not impossible, and the processor now flags them in the
-- `quality` column instead of rejecting them. The CHECK constraints that made such a row a dead
-- letter go; `version >= 1` and the weapon type checks stay (they are the pipeline's own rules).

-- +goose Up
-- +goose StatementBegin
DO $$
DECLARE
    t text;
    c text;
BEGIN
    FOREACH t IN ARRAY ARRAY['great_sword', 'long_sword', 'sword_and_shield', 'dual_swords', 'hammer',
            'hunting_horn', 'lance', 'gunlance', 'tonfa', 'switch_axe_f', 'magnet_spike', 'light_bowgun',
            'heavy_bowgun', 'bow', 'partner_weapon'] LOOP
        FOREACH c IN ARRAY ARRAY['rarity', 'g_rank', 'attack', 'slots', 'price'] LOOP
            EXECUTE format('ALTER TABLE %I DROP CONSTRAINT IF EXISTS %I', t, t || '_' || c || '_check');
        END LOOP;
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['great_sword', 'long_sword', 'sword_and_shield', 'dual_swords', 'hammer',
            'hunting_horn', 'lance', 'gunlance', 'tonfa', 'switch_axe_f', 'magnet_spike', 'light_bowgun',
            'heavy_bowgun', 'bow', 'partner_weapon'] LOOP
        -- NOT VALID: the rows stored meanwhile stay; new rows are checked again.
        EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (rarity >= 0) NOT VALID', t, t || '_rarity_check');
        EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (g_rank >= 0) NOT VALID', t, t || '_g_rank_check');
        EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (attack >= 0) NOT VALID', t, t || '_attack_check');
        EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (slots BETWEEN 0 AND 3) NOT VALID', t, t || '_slots_check');
        EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (price >= 0) NOT VALID', t, t || '_price_check');
    END LOOP;
END
$$;
-- +goose StatementEnd
